"""The local cloud's fast mode: the bus, the queues, the claims and the event log in one SQLite
database instead of moto, routed by the publishing process (docs/local-cloud.md, "The fast
mode"). The workers, the runtime, batches, partial failures, retries and DLQs are the faithful
mode's.
"""
