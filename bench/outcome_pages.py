"""Time agency outcome pages at chosen cursors on a PostgreSQL province (read-only): wall time per page.

    .venv/bin/python bench/outcome_pages.py --database lead_demo --source civil_affairs --after 0,100000,1010000

Each page is asked for `--repeat` times in a new session through `services.feeds.outcomes` (what
GET /api/v1/feeds/{source}/outcomes runs), as a client of the source; the line gives the items, their seq
range and the wall time of each call.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


def main(argv: list[str] | None = None) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from aidservice.services.actors import Actor
    from aidservice.services.registry import feeds

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--server", default=SERVER)
    parser.add_argument("--source", default="civil_affairs", choices=feeds.SOURCE_STATUSES)
    parser.add_argument(
        "--after", default="0", help="comma-separated seqs to start pages after (0: first page)"
    )
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    engine = create_engine(f"{args.server}/{args.database}")
    actor = Actor("client", "bench", 0, source=args.source)
    for after in (int(a) for a in args.after.split(",")):
        cursor = feeds.encode_cursor(after) if after else None
        times = []
        for _ in range(args.repeat):
            with Session(engine) as session:
                began = time.perf_counter()
                page = feeds.outcomes(
                    session, actor=actor, source=args.source, cursor=cursor, limit=args.limit
                )
                times.append(time.perf_counter() - began)
        items = page["items"]
        span = f"{items[0]['seq']}..{items[-1]['seq']}" if items else "-"
        print(
            f"{args.source} after {after}: {len(items)} items, seq {span}, wall ms "
            f"{', '.join(f'{t * 1000:.0f}' for t in times)}",
            flush=True,
        )
    engine.dispose()


if __name__ == "__main__":
    main()
