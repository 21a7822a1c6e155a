// Simulation cost, one thread. Each benchmark replays whole expert episodes of pick_place (the
// heavier task: contacts, grasp) so all of them simulate the same states:
//   BM_MjStep            raw mj_step on the recorded controls (no gravity compensation)
//   BM_PhysicsSubsteps   the env's physics alone: mj_step1 + gravity compensation + mj_step2,
//                        25 substeps per control step, on the recorded controls
//   BM_EnvStep           RobotEnv::Step (IK, substeps, observation, reward) with the expert
//   BM_EnvStepRender     BM_EnvStep + a 128x128 RGB+depth render of the agent-view camera
//   BM_Render            the 128x128 RGB+depth render alone
// items/s = control steps/s (env steps/s).
#include <benchmark/benchmark.h>

#include <vector>

#include "common/envs/pick_place.h"
#include "common/sim/renderer.h"

namespace simscale {
namespace {

// One expert episode: the initial state and the controls of each control step.
struct Recording {
  std::vector<double> qpos0, qvel0;
  std::vector<std::vector<double>> ctrl;  // per control step
};

const Recording& Record() {
  static const Recording recording = [] {
    Recording r;
    envs::PickPlaceEnv env(sim::EnvOptions{});
    envs::PickPlaceExpert expert;
    env.Reset(0, 0);
    expert.Reset(env, 0, 0);
    const mjData* d = env.data();
    r.qpos0.assign(d->qpos, d->qpos + env.model()->nq);
    r.qvel0.assign(d->qvel, d->qvel + env.model()->nv);
    double action[4];
    do {
      expert.Act(env, action);
      env.Step(action);
      r.ctrl.emplace_back(d->ctrl, d->ctrl + env.model()->nu);
    } while (!env.last_result().done());
    return r;
  }();
  return recording;
}

void ReplayPhysics(benchmark::State& state, bool compensate) {
  const Recording& r = Record();
  envs::PickPlaceEnv env(sim::EnvOptions{});  // for the model and arm layout
  const mjModel* m = env.model();
  sim::DataPtr data = sim::MakeData(m);
  mjData* d = data.get();
  const sim::ArmLayout& arm = env.arm();
  const int substeps = env.substeps();
  size_t step = r.ctrl.size();
  for (auto _ : state) {
    if (step == r.ctrl.size()) {
      state.PauseTiming();
      mj_resetData(m, d);
      std::copy(r.qpos0.begin(), r.qpos0.end(), d->qpos);
      std::copy(r.qvel0.begin(), r.qvel0.end(), d->qvel);
      mj_forward(m, d);
      step = 0;
      state.ResumeTiming();
    }
    std::copy(r.ctrl[step].begin(), r.ctrl[step].end(), d->ctrl);
    for (int s = 0; s < substeps; ++s) {
      if (compensate) {
        mj_step1(m, d);
        sim::CompensateArmBias(arm, d);
        mj_step2(m, d);
      } else {
        mj_step(m, d);
      }
    }
    ++step;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["substeps"] = substeps;
}

void BM_MjStep(benchmark::State& state) { ReplayPhysics(state, false); }
void BM_PhysicsSubsteps(benchmark::State& state) { ReplayPhysics(state, true); }

void EnvLoop(benchmark::State& state, bool render) {
  envs::PickPlaceEnv env(sim::EnvOptions{});
  envs::PickPlaceExpert expert;
  std::unique_ptr<sim::Renderer> renderer;
  sim::CameraImage image;
  int camera = 0;
  if (render) {
    sim::RenderOptions options;
    options.depth = true;
    renderer = std::make_unique<sim::Renderer>(env.model(), options);
    camera = renderer->CameraId("agentview");
  }
  bool done = true;
  double action[4];
  for (auto _ : state) {
    if (done) {
      state.PauseTiming();
      env.Reset(0, 0);
      expert.Reset(env, 0, 0);
      state.ResumeTiming();
    }
    expert.Act(env, action);
    done = env.Step(action).done();
    if (render) renderer->Render(env.model(), env.data(), camera, &image);
  }
  state.SetItemsProcessed(state.iterations());
  if (render) state.SetLabel(renderer->description());
}

void BM_EnvStep(benchmark::State& state) { EnvLoop(state, false); }
void BM_EnvStepRender(benchmark::State& state) { EnvLoop(state, true); }

void BM_Render(benchmark::State& state) {
  envs::PickPlaceEnv env(sim::EnvOptions{});
  env.Reset(0, 0);
  sim::RenderOptions options;
  options.width = options.height = static_cast<int>(state.range(0));
  options.depth = true;
  sim::Renderer renderer(env.model(), options);
  const int camera = renderer.CameraId("agentview");
  sim::CameraImage image;
  for (auto _ : state) renderer.Render(env.model(), env.data(), camera, &image);
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(renderer.description());
}

BENCHMARK(BM_MjStep)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_PhysicsSubsteps)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_EnvStep)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_EnvStepRender)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Render)->Arg(128)->ArgName("size")->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace simscale

BENCHMARK_MAIN();
