"""The served fake: namespaces of fakes, the admin API, the live page, seed files and the log."""
