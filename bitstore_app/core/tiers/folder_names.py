"""The names a folder tier keeps for itself: files that are never keys."""

#: Prefix of the temporary files that writes go through.
INCOMING = ".incoming-"
#: Prefix of bitstore's own files in a folder (a bounded folder's count and lock).
OWN = ".bitstore-"
