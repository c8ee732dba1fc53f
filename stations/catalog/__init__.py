"""The station catalog: vocabularies, rules, opening hours, single-station writes, exports."""
