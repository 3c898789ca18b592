"""Address search: a normalised search text on every address, its indexes, a street lexicon.

- `pg_trgm` and `unaccent`, and three IMMUTABLE SQL functions (so a generated column and
  its indexes may use them):
  `oanm_unaccent(text)` (unaccent with its dictionary named, the documented way to make it
  immutable), `oanm_search_normalise(text)` (what search compares: lower case, no accents,
  "ae/oe/ue" as "a/o/u" so "Mueller" finds "Müller", "str."/"str" at a word's end as
  "strasse", "12 A" as "12a" (a number of at most four digits: "13353 B" stays apart),
  "1 - 15" and "1/15" as "1-15", every other run of
  punctuation or space as one space) and `oanm_address_search_text(…)` (the address's
  fields in label order, normalised in one pass, ` | ` between fields so no rule joins two
  fields, a space at either end so whole words match as "% 10 %").
- `Address.search_text`, generated and stored, with a trigram GIN index (words anywhere,
  any order) and a `text_pattern_ops` btree including the id (what was typed so far, in
  label order, and a street's addresses, read from the index alone). The
  bulk importer drops and rebuilds both with the other secondary indexes.
- `StreetName`: each normalised street spelling once, with a trigram GiST index, the
  lexicon search finds streets in (a few thousand rows instead of a million): by words
  (LIKE) and, for typos and "did you mean", by trigram distance (`<->`). Statement
  triggers add the names that inserted rows bring (reading the transition table the tile
  triggers already keep); a row trigger those that an UPDATE of the street brings.
"""

import django.contrib.postgres.indexes
import django.db.models.expressions
from django.contrib.postgres.operations import TrigramExtension, UnaccentExtension
from django.db import migrations, models

FUNCTIONS = r"""
CREATE FUNCTION oanm_unaccent(value text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN public.unaccent('public.unaccent'::regdictionary, value);

CREATE FUNCTION oanm_search_normalise(value text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN btrim(replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(
        replace(replace(replace(lower(oanm_unaccent(value)), 'ae', 'a'), 'oe', 'o'), 'ue', 'u'),
            'str(\.|\M)', 'strasse', 'g'),
            '([0-9])[[:space:]]*[-/][[:space:]]*(?=[0-9])', '\1~', 'g'),
            '(?<![0-9])([0-9]{1,4})[[:space:]]+([a-z])(?![a-z0-9])', '\1\2', 'g'),
            '[^a-z0-9~]+', ' ', 'g'),
        '~', '-'));

CREATE FUNCTION oanm_address_search_text(
    street text, house_number text, unit text, postcode text, city text
) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN ' ' || oanm_search_normalise(
        coalesce(street, '') || ' | ' || coalesce(house_number, '') || ' | '
        || coalesce(unit, '') || ' | ' || coalesce(postcode, '') || ' | ' || coalesce(city, '')
    ) || ' ';
"""

FUNCTIONS_BACKWARD = """
DROP FUNCTION oanm_address_search_text(text, text, text, text, text);
DROP FUNCTION oanm_search_normalise(text);
DROP FUNCTION oanm_unaccent(text);
"""

# The names a set of addresses brings, each normalised spelling once (first name wins).
_ADD_NAMES = """
    INSERT INTO gis_core_streetname (name, name_normalised)
    SELECT DISTINCT ON (normalised) street, normalised
      FROM (SELECT street, oanm_search_normalise(street) AS normalised
              FROM (SELECT DISTINCT street FROM {source} OFFSET 0) AS distinct_streets
           ) AS named  -- OFFSET 0: normalise each distinct street once, not every row's
     WHERE normalised <> ''
     ORDER BY normalised, street
        ON CONFLICT (name_normalised) DO NOTHING;
"""

TRIGGERS = f"""
CREATE FUNCTION gis_core_address_streets_after_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
{_ADD_NAMES.format(source="new_rows")}
    RETURN NULL;
END $$;

CREATE FUNCTION gis_core_address_street_after_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO gis_core_streetname (name, name_normalised)
    SELECT NEW.street, oanm_search_normalise(NEW.street)
     WHERE oanm_search_normalise(NEW.street) <> ''
        ON CONFLICT (name_normalised) DO NOTHING;
    RETURN NULL;
END $$;

CREATE TRIGGER address_streets_after_insert AFTER INSERT ON gis_core_address
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION gis_core_address_streets_after_insert();
CREATE TRIGGER address_street_after_update AFTER UPDATE ON gis_core_address
    FOR EACH ROW
    WHEN (OLD.street IS DISTINCT FROM NEW.street)
    EXECUTE FUNCTION gis_core_address_street_after_update();

{_ADD_NAMES.format(source="gis_core_address")}
"""

TRIGGERS_BACKWARD = """
DROP TRIGGER address_street_after_update ON gis_core_address;
DROP TRIGGER address_streets_after_insert ON gis_core_address;
DROP FUNCTION gis_core_address_street_after_update();
DROP FUNCTION gis_core_address_streets_after_insert();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("gis_core", "0004_import_speed_constraints_and_indexes"),
    ]

    operations = [
        TrigramExtension(),
        UnaccentExtension(),
        migrations.RunSQL(FUNCTIONS, FUNCTIONS_BACKWARD),
        migrations.AddField(
            model_name="address",
            name="search_text",
            field=models.GeneratedField(
                db_persist=True,
                expression=django.db.models.expressions.RawSQL(
                    "oanm_address_search_text(street, house_number, unit, postcode, city)", ()
                ),
                output_field=models.TextField(),
            ),
        ),
        migrations.AddIndex(
            model_name="address",
            index=django.contrib.postgres.indexes.GinIndex(
                fields=["search_text"], name="address_search_trgm", opclasses=["gin_trgm_ops"]
            ),
        ),
        migrations.AddIndex(
            model_name="address",
            index=models.Index(
                fields=["search_text"],
                include=["id"],
                name="address_search_prefix",
                opclasses=["text_pattern_ops"],
            ),
        ),
        migrations.CreateModel(
            name="StreetName",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "name",
                    models.CharField(
                        help_text="As the first address to use it wrote it.", max_length=200
                    ),
                ),
                (
                    "name_normalised",
                    models.TextField(help_text="oanm_search_normalise(name), unique."),
                ),
            ],
            options={
                "ordering": ["name"],
                "constraints": [
                    models.UniqueConstraint(fields=("name_normalised",), name="street_name_unique")
                ],
                "indexes": [
                    django.contrib.postgres.indexes.GistIndex(
                        fields=["name_normalised"],
                        name="street_name_trgm",
                        opclasses=["gist_trgm_ops"],
                    )
                ],
            },
        ),
        migrations.RunSQL(TRIGGERS, TRIGGERS_BACKWARD),
    ]
