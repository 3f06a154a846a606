"""Sessions and training runs with the RestClient.

Every ``ServiceClient`` opens a session on the server (kept alive by a heartbeat, finished on
``close()``); every training client is a training run in it. The RestClient lists and inspects
both. Parts the server does not serve are skipped with the reason (``SKIP-PART``).

    python examples/sessions_and_runs.py
"""

from __future__ import annotations

from _common import LORA_RANK, Example, check, optional, run, section

import tinkex as tinker


def main(ex: Example) -> None:
    with tinker.ServiceClient(user_metadata={"example": "sessions_and_runs"}) as service:
        training = service.create_lora_training_client(
            ex.base_model, rank=LORA_RANK, user_metadata={"purpose": "demo"}
        ).result()
        ex.unload_at_exit(training)
        rest = service.create_rest_client()

        section("list_training_runs()")
        page = rest.list_training_runs(limit=10).result()
        total = page.cursor.total_count if page.cursor else None
        print(f"  {len(page.training_runs)} shown of {total if total is not None else '?'}")
        for r in page.training_runs:
            print(
                f"  {r.training_run_id:16} rank {r.lora_rank}  "
                f"last request {r.last_request_time:%H:%M:%S}  {r.base_model}"
            )
        ids = {r.training_run_id for r in rest.iter_training_runs(page_size=50)}
        check(training.model_id in ids, f"{training.model_id} is not among the training runs")

        section(f"get_training_run({training.model_id!r})")
        run_info = rest.get_training_run(training.model_id).result()
        for field in ("training_run_id", "base_model", "model_owner", "is_lora", "lora_rank"):
            print(f"  {field}: {getattr(run_info, field)}")
        print(f"  user_metadata: {run_info.user_metadata}")
        check(run_info.training_run_id == training.model_id, "a different run came back")

        section("the run of a checkpoint path")
        saved = training.save_weights_for_sampler("sessions-demo").result()
        by_path = rest.get_training_run_by_tinker_path(saved.path).result()
        print(f"  {saved.path} -> run {by_path.training_run_id}")
        check(by_path.training_run_id == training.model_id, "the path names another run")

        section("sessions")
        ok, sessions = optional("list_sessions", lambda: rest.list_sessions(limit=10).result())
        if ok:
            print(f"  {len(sessions.sessions)} session(s): {sessions.sessions[:5]}")
            if sessions.sessions:
                detail = rest.get_session(sessions.sessions[0]).result()
                print(f"  {sessions.sessions[0]}: {detail.model_dump(exclude_none=True)}")


if __name__ == "__main__":
    run(main)
