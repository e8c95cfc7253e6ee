"""The LangGraph state machine that runs campaigns (not built yet: it arrives with the campaign
loop). Only this package may import every other room."""
