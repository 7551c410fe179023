from mashcore.migrations import run_env

run_env()
