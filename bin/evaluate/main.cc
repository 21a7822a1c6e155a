// evaluate: closed-loop evaluation over seeded episodes and randomization conditions.
#include "bin/evaluate/evaluate.h"

int main(int argc, char** argv) {
  return simscale::mpi::RunMain(argc, argv, [&](simscale::mpi::Context& context) {
    simscale::eval::EvalConfig config;
    simscale::config::Schema schema(
        "evaluate", "closed-loop evaluation of a policy over seeded episodes and DR conditions");
    simscale::eval::DeclareOptions(&schema, &config);
    if (!simscale::app::ParseConfig(&schema, config.run, context.world(), argc, argv)) return 0;
    return simscale::eval::Run(config, schema, context.world());
  });
}
