"""The shipped selection index describes the library's graphs as they are now."""

from proxymat.select_index import check_index, default_index_path, file_digest, library_entries, load_index


def test_shipped_index_matches_every_library_graph_file():
    entries = library_entries()
    index = load_index(default_index_path())
    stale = check_index(index, entries)
    assert stale == [], (f"the shipped selection index is stale for {stale}: "
                         "rebuild it with `python tools/build_select_index.py` and commit it")
    assert sorted(index.graphs) == sorted(e.name for e in entries)  # no graph left over from a removed file
    assert all(index.graphs[e.name].digest == file_digest(e.path) for e in entries)
