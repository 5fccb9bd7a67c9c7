"""The team's task board: columns, cards and each card's activity."""
