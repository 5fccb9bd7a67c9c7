"""What sending and data cost: servers' fixed monthly cost, lists' and imports' data cost, other costs."""
