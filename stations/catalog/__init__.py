"""The station catalog: vocabularies, rules, opening hours (and in words), district codes,
single-station writes, exports."""
