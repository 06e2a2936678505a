"""How the code got in: a supply-chain forensics lab.

A lab ScreenOS source repository (a real git repository) whose history follows
the public timeline of the Juniper incident (Checkoway et al., "A Systematic
Analysis of the Juniper Dual EC Incident", CCS 2016 §9; "Where Did I Leave My
Keys?", CACM 61(11) 2018 §6; JSA10713), with signed two-person review records
(in-toto Statement v1 in DSSE envelopes, Ed25519), a machine-readable review
policy, reproducible firmware builds from the tree, and the defender's audit
that ties each scanner finding in a shipped image back to the commit, author
and missing control that let it in.
"""
