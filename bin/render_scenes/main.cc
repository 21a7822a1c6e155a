// render_scenes: saves every camera's view of every env as PNG (used in the docs), after a reset
// and after some expert steps, e.g.
//   render_scenes --output docs/images --size 256 [--condition default] [--steps 40]
#include <cstdio>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common/core/log.h"
#include "common/envs/registry.h"
#include "common/sim/image_io.h"
#include "common/sim/renderer.h"

int main(int argc, char** argv) {
  std::string output = "docs/images", condition = "clean", backend = "auto";
  int size = 256, steps = 40;
  uint64_t seed = 0, episode = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&] { return std::string(i + 1 < argc ? argv[++i] : ""); };
    if (arg == "--output")
      output = next();
    else if (arg == "--size")
      size = std::stoi(next());
    else if (arg == "--steps")
      steps = std::stoi(next());
    else if (arg == "--condition")
      condition = next();
    else if (arg == "--episode")
      episode = std::stoull(next());
    else if (arg == "--seed")
      seed = std::stoull(next());
    else if (arg == "--backend")
      backend = next();
    else {
      std::fprintf(stderr,
                   "usage: render_scenes [--output DIR] [--size N] [--steps N] "
                   "[--condition NAME] [--episode N] [--seed N] [--backend NAME]\n");
      return 2;
    }
  }
  try {
    for (const auto& name : simscale::envs::ListEnvs()) {
      simscale::sim::EnvOptions options;
      options.randomization = simscale::sim::RandomizationCondition(condition);
      auto env = simscale::envs::MakeEnv(name, options);
      auto expert = simscale::envs::MakeScriptedExpert(name);
      simscale::sim::RenderOptions render;
      render.width = render.height = size;
      render.backend = simscale::sim::ParseGlBackend(backend);
      simscale::sim::Renderer renderer(env->model(), render);
      env->Reset(seed, episode);
      expert->Reset(*env, seed, episode);
      std::vector<double> action(static_cast<size_t>(env->action_spec().size()));
      for (int stage = 0; stage < 2; ++stage) {
        for (const auto& camera : renderer.CameraNames()) {
          simscale::sim::CameraImage image;
          renderer.Render(env->model(), env->data(), renderer.CameraId(camera), &image);
          const std::string path =
              fmt::format("{}/{}_{}_{}.png", output, name, camera, stage == 0 ? "reset" : "later");
          simscale::sim::WritePng(path, image.rgb.data(), image.width, image.height);
          simscale::log::Info("{} [{}]: {}", path, renderer.description(), env->instruction());
        }
        for (int s = 0; s < steps && stage == 0; ++s) {
          expert->Act(*env, action.data());
          if (env->Step(action.data()).done()) break;
        }
      }
    }
  } catch (const std::exception& e) {
    simscale::log::Error("{}", e.what());
    return 1;
  }
  return 0;
}
