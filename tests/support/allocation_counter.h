#pragma once

namespace simscale::testing_support {

// Number of `operator new` calls in this process so far (a binary that links
// allocation_counter.cc replaces the global operator new/delete to count them).
long AllocationCount();
// False in sanitizer builds, whose runtime owns operator new.
bool AllocationCounterActive();

}  // namespace simscale::testing_support
