"""Address search for the customers' lookup: type-ahead over every address, and the
addresses nearest a point.

Reads only, in SQL over the indexes of migration 0005. A query is normalised by the same
SQL function as the stored `Address.search_text` (lower case, no accents, "Str." as
"strasse", "12 A" as "12a", "1 - 15" as "1-15"), split into words, the house number, other
numbers and postcodes, and looked up in one statement per step, until one finds addresses:

1. the streets of the lexicon (`StreetName`, a few thousand rows) that hold every street
   word ("muller" finds "Müllerstraße"), and on them, read in label order from the prefix
   btree alone, the addresses with the house number (as typed, a range holding it, or for
   a typed range one of its ends), the postcode and the other typed words;
2. the same on the streets most similar to the street words (trigram k-NN on the
   lexicon), forgiving the other words: "Fohrer Strase 10" → Föhrer Straße 10, offered
   as "did you mean";
3. every typed word anywhere in the address (trigram GIN on the search text), plus what
   starts as typed (prefix btree): queries without a street, such as "13353 10";
4. nothing found: "did you mean" names the streets of step 1 (the number is not theirs),
   else those of step 2.

Scored in SQL: exact house number (30) over a range that holds it (20) over a number that
starts with it (10); then the address starting as typed (2) and the street's closeness to
the typed one (0–2); then the unit (an exact unit 1, else its similarity; with no unit
typed, the whole building 0.5); then the trigram similarity of the whole address (0–1).

Nothing about who lives at or ordered at an address is read: only address fields.
Retired addresses (gone from the GIS of record) are never offered: they are filtered where
the candidates are scored, so the index-only candidate scans stay index-only. The street
names a query is matched against come from every address, retired ones too (a street does
not vanish with one address; filtering there made the prefix probe fetch rows, p95 +60 %).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.db import connection

from common.errors import DomainError

MIN_QUERY_CHARACTERS = 2  # non-space characters
MAX_QUERY_LENGTH = 200
MAX_LIMIT = 25
# Strict matches scored per query at most (an unselective query such as "str" stops here),
# and the addresses taken from the prefix index on top of them.
CANDIDATES = 2000
PREFIX_CANDIDATES = 100
# Streets of the lexicon holding the typed street words that are searched, and the
# addresses taken from each (in label order; a house number narrows them first).
STREETS = 12
PER_STREET = 40
# Streets tried when nothing matched as typed, and offered as "did you mean".
SUGGESTED_STREETS = 3
STREET_SIMILARITY = 0.3
DID_YOU_MEAN = 3
CONTAINING, SIMILAR = "containing", "similar"  # which streets of the lexicon (_streets_sql)

POSTCODE = re.compile(r"^[0-9]{5}$")
NUMBER = re.compile(r"^([0-9]{1,4})[a-z]?(?:-([0-9]{1,4})[a-z]?)?$")

# Score parts (see the module docstring).
NUMBER_EXACT, NUMBER_IN_RANGE, NUMBER_PREFIX = 30, 20, 10
TYPED_PREFIX = 2
STREET_CLOSENESS = 2  # × the trigram similarity of the lexicon's street to the typed one

# The house number as search compares it: stored normalised without spaces, "/" as "-".
_HOUSE_NUMBER = "replace(a.house_number_normalised, '/', '-')"
_RANGE = "'^[0-9]{1,6}[a-z]?[-/][0-9]{1,6}[a-z]?$'"
# An address whose number is a range ("1-15") that holds the typed number.
_IN_RANGE = (
    f"(a.house_number_normalised ~ {_RANGE}"
    " AND %(number_value)s BETWEEN"
    " substring(a.house_number_normalised FROM '^([0-9]{1,6})')::integer"
    " AND substring(a.house_number_normalised FROM '[-/]([0-9]{1,6})')::integer)"
)
# A search text's rest after the street that starts with a range (the exact test is above).
_ANY_RANGE = "'^[0-9]{1,6}[a-z]?-[0-9]{1,6}[a-z]? '"
_COLUMNS = (
    "a.id", "a.label", "a.street", "a.house_number", "a.unit", "a.postcode", "a.city",
    "ST_X(a.location)", "ST_Y(a.location)",
)  # fmt: skip


@dataclass(frozen=True)
class AddressMatch:
    """One address found: its fields, where it is, how well it matched (higher is better)
    and, for nearest addresses, how far it is from the point in metres."""

    id: int
    label: str
    street: str
    house_number: str
    unit: str
    postcode: str
    city: str
    lon: float
    lat: float
    score: float
    distance_m: float | None = None


@dataclass(frozen=True)
class SearchResult:
    """The addresses that match a query, best first, and the spellings to offer instead
    when nothing matched as typed ("did you mean")."""

    query: str
    matches: list[AddressMatch]
    did_you_mean: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ParsedQuery:
    """A normalised query split into what search does with each part."""

    text: str
    words: tuple[str, ...] = ()
    street_words: tuple[str, ...] = ()
    number: str | None = None
    numbers: tuple[str, ...] = ()
    postcodes: tuple[str, ...] = ()
    unit: str = ""


def search_addresses(q: str, limit: int = 10) -> SearchResult:
    """The addresses matching `q` as typed so far, best first, at most `limit` (1–25).

    Any order of street, number and postcode; case and accents ignored; house-number
    letters and ranges; flats ("Müllerstraße 5, Whg 3"). When nothing matches as typed,
    similar street names are tried and offered in `did_you_mean`. Raises DomainError
    (field "q" or "limit") for a query that is too short or too long, or a bad limit.
    """
    query = _checked_query(q)
    limit = _checked_limit(limit, field_name="limit")
    parsed = parse_query(normalise(query))
    if not parsed.text:
        return SearchResult(query=query, matches=[])
    if parsed.street_words:
        matches = _search(parsed, limit, streets=CONTAINING)
        if matches:
            return SearchResult(query=query, matches=matches)
        matches = _search(parsed, limit, streets=SIMILAR)
        if matches:
            offered = [f"{match.street} {match.house_number}".strip() for match in matches]
            return SearchResult(
                query=query, matches=matches, did_you_mean=_unique(offered)[:DID_YOU_MEAN]
            )
    if parsed.words or parsed.postcodes:
        matches = _search(parsed, limit)
        if matches:
            return SearchResult(query=query, matches=matches)
    if not parsed.street_words:
        return SearchResult(query=query, matches=[])
    # Nothing at all: the streets that hold the typed words (the number is not theirs),
    # else the similar ones.
    offered = _street_names(parsed, CONTAINING) or _street_names(parsed, SIMILAR)
    return SearchResult(query=query, matches=[], did_you_mean=offered[:DID_YOU_MEAN])


def nearest_addresses(*, lon: float, lat: float, limit: int = 5) -> list[AddressMatch]:
    """The `limit` (1–25) addresses nearest to (lon, lat) in EPSG:4326, nearest first, each
    with its distance in metres.

    The nearest are found by the GiST index on the stored EPSG:3857 location (`<->`, a
    k-nearest-neighbour index scan); Web Mercator stretches distances by the same factor
    all around a point, so the order is the true one, and `distance_m` is measured on the
    spheroid (`geography`) for those few rows only. Raises DomainError for coordinates out
    of range.
    """
    lon = _checked_coordinate(lon, "lon", 180)
    lat = _checked_coordinate(lat, "lat", 90)
    limit = _checked_limit(limit, field_name="limit")
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT {", ".join(_COLUMNS)},
                   ST_Distance(a.location::geography,
                               ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography)
              FROM (SELECT id FROM gis_core_address
                     WHERE retired_at IS NULL
                     ORDER BY location_3857 <-> ST_Transform(
                              ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326), 3857)
                     LIMIT %(limit)s) AS nearest
              JOIN gis_core_address AS a ON a.id = nearest.id
             ORDER BY 10, a.id
            """,
            {"lon": lon, "lat": lat, "limit": limit},
        )
        return [_match(row, score=0.0, distance_m=round(row[9], 1)) for row in cursor.fetchall()]


def normalise(text: str) -> str:
    """`text` as search compares it: the SQL function `oanm_search_normalise`."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT oanm_search_normalise(%s)", [text])
        return cursor.fetchone()[0] or ""


def parse_query(text: str) -> ParsedQuery:
    """Split a normalised query into words, the house number (the first number of at most
    four digits, with a letter or as a range), other numbers and five-digit postcodes.

    Street words are the words before the house number (or, when the number comes first,
    those after it, up to a postcode); a unit is what follows a house number typed after
    its street, up to a postcode ("mullerstrasse 5 whg 3" → "whg 3").
    """
    tokens = text.split()
    words: list[tuple[int, str]] = []
    numbers: list[str] = []
    postcodes: list[tuple[int, str]] = []
    number, number_at = None, None
    for index, token in enumerate(tokens):
        if POSTCODE.match(token):
            postcodes.append((index, token))
        elif NUMBER.match(token) and number is None:
            number, number_at = token, index
        elif token[0].isdigit():
            numbers.append(token)
        else:
            words.append((index, token))
    first_postcode = next(
        (index for index, _ in postcodes if number_at is None or index > number_at), len(tokens)
    )
    street_first = number_at is not None and any(index < number_at for index, _ in words)
    if number_at is None:
        street_words = [word for index, word in words if index < first_postcode] or [
            word for _, word in words
        ]
        unit = ""
    elif street_first:
        street_words = [word for index, word in words if index < number_at]
        unit = " ".join(tokens[number_at + 1 : first_postcode])
    else:
        street_words = [word for index, word in words if number_at < index < first_postcode] or [
            word for _, word in words
        ]
        unit = ""
    return ParsedQuery(
        text=text,
        words=tuple(word for _, word in words),
        street_words=tuple(street_words),
        number=number,
        numbers=tuple(numbers),
        postcodes=tuple(postcode for _, postcode in postcodes),
        unit=unit,
    )


def _search(parsed: ParsedQuery, limit: int, *, streets: str | None = None) -> list[AddressMatch]:
    """The addresses holding the parts of the query, scored, best first, in one statement.

    With `streets` (CONTAINING or SIMILAR: which streets of the lexicon), the candidates
    are the addresses on those streets, read in order from the prefix btree (index only)
    and filtered by the other parts: the typed words that are not the street's (not for
    SIMILAR, which forgives them), the house number, other numbers and postcodes. Without,
    every typed word must occur in the address (the trigram GIN index), and what starts
    as typed is added (the prefix btree).
    """
    params: dict[str, object] = {
        "text": parsed.text,
        "prefix": f" {parsed.text}%",
        # The prefix as a range of the btree (text_pattern_ops): LIKE would leave the
        # index to the planner, and the trigram index sorts nothing.
        "prefix_from": f" {parsed.text}",
        "prefix_to": f" {parsed.text[:-1]}{chr(ord(parsed.text[-1]) + 1)}",
        "unit": parsed.unit,
        "limit": limit,
        "candidates": CANDIDATES,
        "prefix_candidates": PREFIX_CANDIDATES,
        "per_street": PER_STREET,
    }

    def param(value: object) -> str:
        name = f"p{len(params)}"
        params[name] = value
        return f"%({name})s"

    last = parsed.text.split()[-1]
    # On a street's addresses the parts are filters of the btree's rows: written so that
    # the trigram index cannot serve them (it would, per street, for the whole county).
    text = "a.search_text" if streets is None else "(a.search_text || '')"
    filters: list[str] = []
    words = parsed.words if streets is None else ()
    if streets == CONTAINING:
        words = tuple(word for word in parsed.words if word not in parsed.street_words)
    for word in words:
        filters.append(f"{text} LIKE {param(_word_pattern(word, last=word == last))}")
    for postcode in parsed.postcodes:
        filters.append(f"{text} LIKE {param(f'% {postcode} %')}")
    for number in parsed.numbers:
        filters.append(f"{text} LIKE {param(f'% {number}%')}")

    number_rank = "0"
    if parsed.number:
        low, high = NUMBER.match(parsed.number).groups()
        params["number"] = parsed.number
        params["number_value"] = int(low)
        params["ends"] = parsed.number.split("-")
        in_range = _IN_RANGE if high is None else f"{_HOUSE_NUMBER} = ANY(%(ends)s)"
        number_rank = (
            f"CASE WHEN {_HOUSE_NUMBER} = %(number)s THEN {NUMBER_EXACT}"
            f" WHEN {in_range} THEN {NUMBER_IN_RANGE}"
            f" WHEN {_HOUSE_NUMBER} LIKE %(number)s || '%%' THEN {NUMBER_PREFIX} ELSE 0 END"
        )
        if streets is None:
            filters.append(f"({number_rank}) > 0")
        else:
            # On the search text alone (index only), right after the street: a number
            # starting as typed, any range (the exact test is the rank's), a range's ends.
            after = "substr(a.search_text, length(street.name) + 3)"
            ends = "".join(
                f" OR {after} LIKE {param(f'{end} %')}" for end in params["ends"] if high
            )
            filters.append(
                f"({after} LIKE {param(f'{parsed.number}%')} OR {after} ~ {_ANY_RANGE}{ends})"
            )
    where = "".join(f" AND {condition}" for condition in filters)
    if streets is None:
        candidates = f"""
          (SELECT id, 0 AS street_closeness FROM gis_core_address
            WHERE search_text ~>=~ %(prefix_from)s AND search_text ~<~ %(prefix_to)s
            ORDER BY search_text LIMIT %(prefix_candidates)s)
          UNION ALL
          (SELECT a.id, 0 FROM gis_core_address AS a WHERE TRUE{where} LIMIT %(candidates)s)
        """
    else:
        candidates = f"""
          SELECT found.id, similarity(street.name, %(street_typed)s) AS street_closeness
            FROM ({_streets_sql(parsed, streets, params)}) AS street
           CROSS JOIN LATERAL (
                 SELECT a.id FROM gis_core_address AS a
                  WHERE a.search_text ~>=~ (' ' || street.name || ' ')
                    AND a.search_text ~<~ (' ' || street.name || '!'){where}
                  ORDER BY a.search_text LIMIT %(per_street)s) AS found
        """
    unit_score = (
        "CASE WHEN oanm_search_normalise(a.unit) = %(unit)s THEN 1"
        " ELSE similarity(oanm_search_normalise(a.unit), %(unit)s) END"
        if parsed.unit
        else "CASE WHEN a.unit = '' THEN 0.5 ELSE 0 END"
    )
    columns = ", ".join(f"{column} AS c{index}" for index, column in enumerate(_COLUMNS))
    sql = f"""
        SELECT {", ".join(f"scored.c{index}" for index in range(len(_COLUMNS)))},
               scored.number_rank + scored.closeness AS score
          FROM (SELECT {columns},
                       a.label AS label, {number_rank} AS number_rank,
                       CASE WHEN a.search_text LIKE %(prefix)s THEN {TYPED_PREFIX} ELSE 0 END
                       + {STREET_CLOSENESS} * candidate.street_closeness
                       + {unit_score} + similarity(a.search_text, %(text)s) AS closeness
                  FROM (SELECT id, max(street_closeness) AS street_closeness
                          FROM ({candidates}) AS listed GROUP BY id) AS candidate
                  JOIN gis_core_address AS a
                    ON a.id = candidate.id AND a.retired_at IS NULL) AS scored
         WHERE {"scored.number_rank > 0" if parsed.number else "TRUE"}
         ORDER BY score DESC, scored.label, scored.c0
         LIMIT %(limit)s
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [_match(row, score=round(row[9], 3)) for row in cursor.fetchall()]


def _word_pattern(word: str, *, last: bool) -> str:
    """A typed word as a LIKE pattern on the search text: anywhere (even inside a word,
    "muller" in "mullerstrasse") from three characters; a short word whole, or as a
    word's start while it is being typed (the query's last word)."""
    if len(word) >= 3:
        return f"%{word}%"
    return f"% {word}%" if last else f"% {word} %"


def _streets_sql(parsed: ParsedQuery, which: str, params: dict) -> str:
    """SQL for the lexicon's streets (column `name`, normalised) that a query is about:

    CONTAINING, those holding every street word (LIKE, the words anywhere), closest
    first, at most STREETS; SIMILAR, the SUGGESTED_STREETS most similar to the street
    words as a whole (k-NN on the lexicon's GiST), at least STREET_SIMILARITY alike.
    Adds its parameters to `params`.
    """
    params["street_typed"] = " ".join(parsed.street_words)
    if which == SIMILAR:
        params["suggested"] = SUGGESTED_STREETS
        params["similarity"] = STREET_SIMILARITY
        return """
            SELECT name FROM (
                SELECT name_normalised AS name, name_normalised <-> %(street_typed)s AS distance
                  FROM gis_core_streetname
                 ORDER BY name_normalised <-> %(street_typed)s  -- alone: a k-NN index scan
                 LIMIT %(suggested)s) AS nearest
             WHERE 1 - distance >= %(similarity)s
        """
    params["streets"] = STREETS
    conditions = []
    for index, word in enumerate(parsed.street_words):
        params[f"street_word{index}"] = _word_pattern(
            word, last=index == len(parsed.street_words) - 1
        )
        conditions.append(f"name_normalised LIKE %(street_word{index})s")
    return f"""
        SELECT name_normalised AS name FROM gis_core_streetname
         WHERE {" AND ".join(conditions)}
         ORDER BY similarity(name_normalised, %(street_typed)s) DESC, name_normalised
         LIMIT %(streets)s
    """


def _street_names(parsed: ParsedQuery, which: str) -> list[str]:
    """The names as written of the streets a query is about (see _streets_sql) that some
    address still uses, closest first."""
    params: dict[str, object] = {}
    streets = _streets_sql(parsed, which, params)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT named.name
              FROM ({streets}) AS street
              JOIN gis_core_streetname AS named ON named.name_normalised = street.name
             WHERE EXISTS (
                   SELECT FROM gis_core_address AS a
                    WHERE a.search_text ~>=~ (' ' || street.name || ' ')
                      AND a.search_text ~<~ (' ' || street.name || '!'))
             ORDER BY similarity(street.name, %(street_typed)s) DESC, named.name
            """,
            params,
        )
        return [name for (name,) in cursor.fetchall()]


def street_names_prune() -> int:
    """Forget the street names no address uses any more (after deletions or renames);
    returns how many were forgotten."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            DELETE FROM gis_core_streetname AS street
             WHERE NOT EXISTS (
                   SELECT FROM gis_core_address AS a
                    WHERE a.search_text ~>=~ (' ' || street.name_normalised || ' ')
                      AND a.search_text ~<~ (' ' || street.name_normalised || '!'))
            """
        )
        return cursor.rowcount


def _match(row, *, score: float, distance_m: float | None = None) -> AddressMatch:
    id_, label, street, house_number, unit, postcode, city, lon, lat = row[:9]
    return AddressMatch(
        id=id_,
        label=label,
        street=street,
        house_number=house_number,
        unit=unit,
        postcode=postcode,
        city=city,
        lon=round(lon, 7),
        lat=round(lat, 7),
        score=score,
        distance_m=distance_m,
    )


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _checked_query(q) -> str:
    query = (q or "").strip() if isinstance(q, str) or q is None else None
    if query is None:
        raise DomainError("q is the text to search for", code="invalid", field="q")
    if len(query) > MAX_QUERY_LENGTH:
        raise DomainError(
            f"q is at most {MAX_QUERY_LENGTH} characters, not {len(query)}",
            code="invalid",
            field="q",
        )
    if len("".join(query.split())) < MIN_QUERY_CHARACTERS:
        raise DomainError(
            f"type at least {MIN_QUERY_CHARACTERS} characters of an address to search for",
            code="invalid",
            field="q",
        )
    return query


def _checked_limit(limit, *, field_name: str) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise DomainError(
            f"{field_name} is a whole number from 1 to {MAX_LIMIT}, not {limit!r}",
            code="invalid",
            field=field_name,
        )
    return limit


def _checked_coordinate(value, name: str, bound: int) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if isinstance(value, bool) or not -bound <= number <= bound:
        raise DomainError(
            f"{name} is a number of degrees from {-bound} to {bound}, not {value!r}",
            code="invalid",
            field=name,
        )
    return number
