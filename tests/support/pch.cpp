// Compiled only to own the tests' precompiled header.
