// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQBENCH_BENCHSERVER_H
#define SYNQBENCH_BENCHSERVER_H

#include <QtCore/QProcess>
#include <QtCore/QString>
#include <QtCore/QTemporaryDir>
#include <QtCore/QUrl>

namespace SynqBench {

/*
    One synq-server for the benchmark, as the test fixture starts it (tests/shared/
    serverprocess.h): --listen 127.0.0.1:0, a SQLite database in its own temporary directory (or the
    database URL given),
    and the port read from its "listening on http://127.0.0.1:PORT" line. Its log goes to a
    file in that directory, so a full pipe can never block it. The destructor stops it
    (SIGTERM, then SIGKILL after 10 s) and the directory goes with the object.
*/
class BenchServer
{
public:
    // database: a --database URL for synq-server; empty: a SQLite file in the temporary directory.
    explicit BenchServer(const QString &program, const QString &database = QString());
    ~BenchServer();
    BenchServer(const BenchServer &) = delete;
    BenchServer &operator=(const BenchServer &) = delete;

    bool start(int timeoutMs = 15000);
    int stop(int timeoutMs = 10000);
    QUrl url() const;
    QString errorString() const { return m_error; }
    QString databaseFile() const;
    qint64 pid() const { return m_process.processId(); }

private:
    QTemporaryDir m_dir;
    QString m_program;
    QString m_database;
    QProcess m_process;
    quint16 m_port = 0;
    QString m_error;
};

} // namespace SynqBench

#endif
