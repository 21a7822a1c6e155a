#pragma once

// Preemption signals (SIGTERM from a scheduler's KillWait, SIGUSR1 from `--signal=B:USR1@T`): a
// long-running tool turns them into "checkpoint at the next step, then exit 75".
//
// Install the handlers as the first statement of main(), before MPI or any other thread starts:
// a signal that arrives while the tool is still starting up is then recorded, not fatal, and the
// run checkpoints as soon as its loop begins; the signals reach only a thread that waits for them,
// never a computing thread. A signal the launching process had blocked (and so left pending across
// exec) is taken once the handlers are in place. The only window left is the dynamic loader's,
// before any of the tool's code runs.
namespace simscale::preemption {

// Blocks SIGTERM and SIGUSR1 in the calling thread (and so in every thread it starts later) and
// starts the thread that records them. Call from main() before starting threads. Idempotent.
void InstallHandlers();

// Whether a preemption signal has arrived in this process since start (or the last reset).
bool Requested();

// The number of the first signal that arrived (SIGTERM or SIGUSR1), 0 if none.
int Signal();

// "SIGTERM", "SIGUSR1", or "none".
const char* SignalName();

// Forgets a recorded request (tests that run several trainings in one process).
void ResetForTesting();

}  // namespace simscale::preemption
