"""Mutation RL (issue mt-rl): a policy writes pytest files, the reward is their mutation kill
rate. `config` (MutationRLConfig, free of heavy imports: params imports it), `rl` (the reward,
the TRL run, `run_mutation_rl`); the study that runs it is `cetd_lib.studies.mutation_rl`
(docs/mutation_rl.md). It sits below `multitask`, whose evaluator reuses `rl.extract_test_code`.
"""
