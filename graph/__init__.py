"""The LangGraph state machine that runs campaigns: wiring (``build``), one function per node
(``nodes``, ``selection``, ``gate``), pure routing predicates (``routing``), the small checkpointed
state (``state``) and the archive glue (``knowledge``). Only this package may import every other
room."""
