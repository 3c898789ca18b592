"""Demand follows moved addresses with one UPDATE per statement, not two per moved address.

Migration 0004 rewrote the demand rows' location from a row trigger on the address table:
two UPDATE statements per moved address, each rolling the demand pyramid up on its own
(1,000 addresses moved in one statement: 2.6 s). Now the row trigger only notes the moved
address and a statement trigger rewrites the demand of all of them at once (one roll-up
per demand table).
"""

from django.db import migrations

FORWARD = """
DROP TRIGGER demand_follows_address ON gis_core_address;
DROP FUNCTION areas_demand_follow_address();

-- Addresses the running UPDATE moved; empty between statements.
CREATE UNLOGGED TABLE areas_demand_moved (address_id bigint NOT NULL);

CREATE FUNCTION areas_demand_note_move() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO areas_demand_moved (address_id) VALUES (NEW.id);
    RETURN NULL;
END $$;

CREATE FUNCTION areas_demand_follow_addresses() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    moved bigint[];
BEGIN
    IF EXISTS (SELECT FROM areas_demand_moved) THEN
        WITH noted AS (DELETE FROM areas_demand_moved RETURNING address_id)
        SELECT array_agg(DISTINCT address_id) INTO moved FROM noted;
        UPDATE areas_interest AS interest SET location_3857 = address.location_3857
          FROM gis_core_address AS address
         WHERE interest.address_id = ANY(moved) AND address.id = interest.address_id;
        UPDATE areas_signup AS signup SET location_3857 = address.location_3857
          FROM gis_core_address AS address
         WHERE signup.address_id = ANY(moved) AND address.id = signup.address_id;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER demand_notes_moves AFTER UPDATE ON gis_core_address
    FOR EACH ROW WHEN (OLD.location IS DISTINCT FROM NEW.location)
    EXECUTE FUNCTION areas_demand_note_move();
CREATE TRIGGER demand_follows_addresses AFTER UPDATE ON gis_core_address
    FOR EACH STATEMENT EXECUTE FUNCTION areas_demand_follow_addresses();
"""

BACKWARD = """
DROP TRIGGER demand_follows_addresses ON gis_core_address;
DROP TRIGGER demand_notes_moves ON gis_core_address;
DROP FUNCTION areas_demand_follow_addresses();
DROP FUNCTION areas_demand_note_move();
DROP TABLE areas_demand_moved;

CREATE FUNCTION areas_demand_follow_address() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE areas_interest SET location_3857 = NEW.location_3857 WHERE address_id = NEW.id;
    UPDATE areas_signup SET location_3857 = NEW.location_3857 WHERE address_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER demand_follows_address AFTER UPDATE ON gis_core_address
    FOR EACH ROW WHEN (OLD.location IS DISTINCT FROM NEW.location)
    EXECUTE FUNCTION areas_demand_follow_address();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("areas", "0004_demand_tile_cells"),
    ]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
