"""What a processor owes each client: sub-processor change notices, the breach register, transparency.

A neutral package, like subprocessors/ and rights/: the register is vendor-wide, notices go to
each tenant, and breaches span both scopes, so neither processor/ nor controller/ may hold it.
"""
