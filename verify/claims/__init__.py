"""One module per source; each exposes ``CLAIMS``, a list of :class:`verify.claim.Claim`."""
