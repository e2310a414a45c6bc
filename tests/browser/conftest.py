"""The notebook here is opened by tests/test_browser.py in a real browser; nbval must not
collect it on its own (it only builds the panel and would test nothing)."""

collect_ignore_glob = ["*.ipynb"]
