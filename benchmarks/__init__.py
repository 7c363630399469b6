"""`make bench`: quotebot against a throwaway Dovecot full of generated quote-thread mail.

`people` and `mime` are what the mail is made of, `mailgen` writes it (pure, deterministic),
`mailbox` starts the servers and fills the folders, `measure` times the bot and its baselines,
`profiling` profiles one backlog pass, `report` prints the table and writes the JSON, `runner`
sequences them. See docs/performance.md.
"""
