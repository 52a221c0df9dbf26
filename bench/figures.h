// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQBENCH_FIGURES_H
#define SYNQBENCH_FIGURES_H

#include <QtCore/QString>
#include <QtCore/QStringList>

namespace SynqBench {

class BenchServer;

struct Options
{
    int rows = 100000; // insertMany, pull, cold open, memory
    int mutations = 2000; // single inserts per durability level
    int pushes = 10000; // offline mutations pushed
    int coldRuns = 5; // child processes per side for the cold open (median)
    int pushBatch = 0; // the transport's batchSize for the push; 0: its default
    QStringList durabilities = { QStringLiteral("full"), QStringLiteral("normal") }; // mutation
    bool quick = false;
    QString server; // synq-server binary
    QString serverDatabase; // its --database URL; empty: a fresh SQLite file
    QString self; // this program, for the child processes
};

// The figure groups, in the order they run; --only takes these names.
QStringList figureGroups();

// Each measures one group of figures and emits them; false if it could not measure.
bool runMutation(const Options &options);
bool runInsertMany(const Options &options);
bool runPull(const Options &options, BenchServer *server);
bool runPush(const Options &options, BenchServer *server);
bool runColdOpen(const Options &options);
bool runMemory(const Options &options);

// The child processes of the cold-open and memory figures: synq-bench --child MODE FILE.
int childMain(const QString &mode, const QString &file);

// One line on stderr: Qt and SQLite versions, CPU, cores, build type.
void describeMachine();

} // namespace SynqBench

#endif
