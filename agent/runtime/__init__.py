"""The long-running side: the service, its scheduler and jobs, leader election, the HTTP server,
and the Celery dispatch and worker. Entry points and the runtime may import anything below them.
"""
