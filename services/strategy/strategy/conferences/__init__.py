"""Child protection conferences (DOMAIN.md §7, §8; issue 15): the initial conference (ICPC)
from an agreed s47 outcome of continuing risk, its agency reports and its decisions per
child, each child's child protection plan."""
