#pragma once
// FUZZ_CHECK(cond, what): an invariant of the code under test. A violation
// prints what broke and aborts, which libFuzzer reports as a crash (and saves
// the input as crash-<sha1>).

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond, what)                                                                   \
  do {                                                                                           \
    if (!(cond)) {                                                                               \
      std::fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s\n  (%s)\n", __FILE__, __LINE__, what, \
                   #cond);                                                                       \
      std::abort();                                                                              \
    }                                                                                            \
  } while (0)
