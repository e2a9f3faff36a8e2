"""Server instructions: how a model should investigate a plan with these tools."""

INSTRUCTIONS = """\
This server reads the production plan of HCL Workload Automation (HWA, formerly IBM TWS)
engines. It is read-only in this version.

How to investigate:
1. Start with plan_summary for the big picture (errors, late, held, critical).
2. find_jobs with status=["ERROR"] (or internal ABEND/FAIL) lists failures; status
   values are common (ERROR, RUNNING, WAITING, HELD ...) or internal (ABEND, EXEC, HOLD ...).
3. get_job on one job: last run, return code, dependencies and the actions its state allows.
4. get_job_log: by default the last lines plus the first error lines and the JOBINFO
   trailer (exit status, CPU, elapsed); use search= for a pattern, from_line/to_line for a range.
5. job_dependencies with direction=successors shows what waits on a failed job;
   direction=predecessors shows what a waiting job waits for.
6. list_workstations (unlinked, fence, limit 0), list_resources and list_prompts
   (prompts waiting for a reply) explain jobs that do not start.

Jobs can be named by id or as JOBSTREAM.JOB (WORKSTATION#JOBSTREAM.JOB when ambiguous).
Lists are paged: when truncated is true, pass next_cursor to continue. Every result has
engine and as_of; say how fresh the data is when you report. Report what failed, why,
the impact, a recommended action and your confidence.
"""
