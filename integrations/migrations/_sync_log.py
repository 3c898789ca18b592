"""The SQL of the change log's trigger functions, shared by the migrations that (re)create them."""

# The columns whose change is a change a GIS sees (not updated_at, last_import_id or the
# generated ones). Compared as row values: to_jsonb of whole rows cost ~100 µs a row.
# A new column that a GIS should see is added by a later migration (as 0004 does).
ADDRESS_COLUMNS = (
    "location, street, house_number, unit, postcode, city, country, premises_type, units,"
    " status, status_changed_at, area_id, attributes"
)
AREA_COLUMNS = (
    "name, code, boundary, phase, phase_changed_at, parent_id, target_take_rate, is_active,"
    " deploys_at_target, attributes, expected_connection_from, expected_connection_until"
)


def row(alias: str, columns: str) -> str:
    return "(" + ", ".join(f"{alias}.{c.strip()}" for c in columns.split(",")) + ")"


def log_function(name: str, entity: str, columns: str, retire: str, *, replace: bool = False) -> str:
    create = "CREATE OR REPLACE FUNCTION" if replace else "CREATE FUNCTION"
    return f"""
{create} {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO integrations_sync_change (entity, entity_id, op, xid, changed_at)
        SELECT '{entity}', n.id, 'insert', pg_current_xact_id()::text::bigint, now()
          FROM new_rows n ORDER BY n.id;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO integrations_sync_change (entity, entity_id, op, xid, changed_at)
        SELECT '{entity}', n.id, CASE WHEN {retire} THEN 'retire' ELSE 'update' END,
               pg_current_xact_id()::text::bigint, now()
          FROM new_rows n JOIN old_rows o ON o.id = n.id
         WHERE {row("n", columns)} IS DISTINCT FROM {row("o", columns)}
         ORDER BY n.id;
    ELSE
        INSERT INTO integrations_sync_change (entity, entity_id, op, xid, changed_at)
        SELECT '{entity}', o.id, 'delete', pg_current_xact_id()::text::bigint, now()
          FROM old_rows o ORDER BY o.id;
    END IF;
    RETURN NULL;
END $$;
"""


def triggers(table: str, function: str) -> str:
    return f"""
CREATE TRIGGER {table}_sync_insert AFTER INSERT ON {table}
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}();
CREATE TRIGGER {table}_sync_update AFTER UPDATE ON {table}
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {function}();
CREATE TRIGGER {table}_sync_delete AFTER DELETE ON {table}
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}();
"""


def drop(table: str, function: str) -> str:
    return f"""
DROP TRIGGER IF EXISTS {table}_sync_insert ON {table};
DROP TRIGGER IF EXISTS {table}_sync_update ON {table};
DROP TRIGGER IF EXISTS {table}_sync_delete ON {table};
DROP FUNCTION IF EXISTS {function}();
"""
