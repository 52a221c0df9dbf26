// SPDX-License-Identifier: BSD-3-Clause
//
// synq-bench: Synq's throughput and latency beside the physical limit — raw SQLite through the
// same Qt QSQLITE driver with the same pragmas, and raw HTTP to the same synq-server —
// measured in one run on one machine. One JSON object per figure on stdout; progress and a
// summary table on stderr. docs/performance.md explains every figure.
//
//   synq-bench [--quick] [--only GROUP[,GROUP...]] [--rows N] [--mutations N] [--pushes N]
//              [--push-batch N] [--durability full|normal] [--server PATH]
//              [--server-database URL]
//
// Exit code 0 when every selected figure was measured (targets are reported, not enforced),
// 1 when a measurement failed, 2 for bad arguments.

#include "benchserver.h"
#include "figures.h"
#include "report.h"

#include <QtCore/QCommandLineParser>
#include <QtCore/QCoreApplication>
#include <QtCore/QFileInfo>

#include <cstdio>
#include <memory>

using namespace SynqBench;

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("synq-bench"));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral(
            "Measures Synq beside raw SQLite and raw HTTP on this machine; prints one JSON "
            "object per figure."));
    parser.addHelpOption();
    const QCommandLineOption quick(QStringLiteral("quick"),
                                   QStringLiteral("Small sizes (2,000 rows) for a quick check."));
    const QCommandLineOption only(
            QStringLiteral("only"),
            QStringLiteral("Run only these figure groups (comma-separated): %1.")
                    .arg(figureGroups().join(QStringLiteral(", "))),
            QStringLiteral("groups"));
    const QCommandLineOption rows(QStringLiteral("rows"),
                                  QStringLiteral("Rows for insertMany, pull, cold open and "
                                                 "memory (default 100000)."),
                                  QStringLiteral("n"));
    const QCommandLineOption mutations(QStringLiteral("mutations"),
                                       QStringLiteral("Single inserts timed per durability "
                                                      "level (default 2000)."),
                                       QStringLiteral("n"));
    const QCommandLineOption pushes(QStringLiteral("pushes"),
                                    QStringLiteral("Offline mutations pushed (default 10000)."),
                                    QStringLiteral("n"));
    const QCommandLineOption pushBatch(QStringLiteral("push-batch"),
                                       QStringLiteral("The transport's batchSize for the push "
                                                      "(default: the transport's default)."),
                                       QStringLiteral("n"));
    const QCommandLineOption durability(QStringLiteral("durability"),
                                        QStringLiteral("The mutation figures for this durability "
                                                       "only: full or normal (default: both)."),
                                        QStringLiteral("level"));
    const QCommandLineOption server(QStringLiteral("server"),
                                    QStringLiteral("The synq-server binary (default: the one "
                                                   "built with this program)."),
                                    QStringLiteral("path"));
    const QCommandLineOption serverDatabase(
            QStringLiteral("server-database"),
            QStringLiteral("The synq-server's --database URL for the pull and push figures, e.g. "
                           "postgres://user@127.0.0.1:5432/db (default: a fresh SQLite file)."),
            QStringLiteral("url"));
    QCommandLineOption child(QStringLiteral("child"),
                                   QStringLiteral("Internal: a measuring child process."),
                                   QStringLiteral("mode"));
    child.setFlags(QCommandLineOption::HiddenFromHelp);
    parser.addOptions({ quick, only, rows, mutations, pushes, pushBatch, durability, server,
                        serverDatabase, child });
    parser.process(app);

    if (parser.isSet(child)) {
        if (parser.positionalArguments().size() != 1)
            return 2;
        return childMain(parser.value(child), parser.positionalArguments().constFirst());
    }

    Options options;
    options.self = QCoreApplication::applicationFilePath();
#ifdef SYNQ_SERVER_PATH
    options.server = QStringLiteral(SYNQ_SERVER_PATH);
#endif
    if (parser.isSet(quick)) {
        options.quick = true;
        options.rows = 2000;
        options.mutations = 200;
        options.pushes = 500;
        options.coldRuns = 3;
    }
    auto positive = [&](const QCommandLineOption &option, int *out) {
        if (!parser.isSet(option))
            return true;
        bool ok = false;
        const int n = parser.value(option).toInt(&ok);
        if (!ok || n < 1) {
            std::fprintf(stderr, "synq-bench: --%s needs a positive number\n",
                         qPrintable(option.names().constFirst()));
            return false;
        }
        *out = n;
        return true;
    };
    if (!positive(rows, &options.rows) || !positive(mutations, &options.mutations)
        || !positive(pushes, &options.pushes) || !positive(pushBatch, &options.pushBatch))
        return 2;
    if (parser.isSet(server))
        options.server = parser.value(server);
    options.serverDatabase = parser.value(serverDatabase);
    if (parser.isSet(durability)) {
        const QString level = parser.value(durability).toLower();
        if (level != QLatin1String("full") && level != QLatin1String("normal")) {
            std::fprintf(stderr, "synq-bench: --durability is full or normal\n");
            return 2;
        }
        options.durabilities = { level };
    }

    QStringList groups = figureGroups();
    if (parser.isSet(only)) {
        groups.clear();
        for (const QString &name : parser.value(only).split(QLatin1Char(','), Qt::SkipEmptyParts)) {
            if (!figureGroups().contains(name.trimmed())) {
                std::fprintf(stderr, "synq-bench: unknown figure group \"%s\" (known: %s)\n",
                             qPrintable(name), qPrintable(figureGroups().join(QStringLiteral(", "))));
                return 2;
            }
            groups.append(name.trimmed());
        }
    }

    describeMachine();
    std::unique_ptr<BenchServer> synqServer;
    if (groups.contains(QStringLiteral("pull")) || groups.contains(QStringLiteral("push"))) {
        if (options.server.isEmpty() || !QFileInfo(options.server).isExecutable()) {
            std::fprintf(stderr, "synq-bench: no synq-server at \"%s\" (use --server)\n",
                         qPrintable(options.server));
            return 2;
        }
        synqServer = std::make_unique<BenchServer>(options.server, options.serverDatabase);
        if (!synqServer->start()) {
            std::fprintf(stderr, "synq-bench: %s\n", qPrintable(synqServer->errorString()));
            return 1;
        }
        note(QStringLiteral("synq-server at %1 (pid %2) on %3")
                     .arg(synqServer->url().toString())
                     .arg(synqServer->pid())
                     .arg(options.serverDatabase.isEmpty() ? QStringLiteral("SQLite")
                                                           : options.serverDatabase));
    }

    bool ok = true;
    for (const QString &group : std::as_const(groups)) {
        note(QStringLiteral("measuring %1").arg(group));
        if (group == QLatin1String("mutation"))
            ok = runMutation(options) && ok;
        else if (group == QLatin1String("insert_many"))
            ok = runInsertMany(options) && ok;
        else if (group == QLatin1String("pull"))
            ok = runPull(options, synqServer.get()) && ok;
        else if (group == QLatin1String("push"))
            ok = runPush(options, synqServer.get()) && ok;
        else if (group == QLatin1String("cold_open"))
            ok = runColdOpen(options) && ok;
        else if (group == QLatin1String("memory"))
            ok = runMemory(options) && ok;
    }
    if (synqServer)
        synqServer->stop();
    printSummary();
    return ok ? 0 : 1;
}
