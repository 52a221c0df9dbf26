// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQTEST_SERVERPROCESS_H
#define SYNQTEST_SERVERPROCESS_H

#include <QtCore/QDeadlineTimer>
#include <QtCore/QDir>
#include <QtCore/QProcess>
#include <QtCore/QRandomGenerator>
#include <QtCore/QRegularExpression>
#include <QtCore/QString>
#include <QtCore/QStringList>
#include <QtCore/QTemporaryDir>
#include <QtCore/QUrl>

#include <memory>

namespace SynqTest {

/*
    One synq-server process for a test: started on 127.0.0.1 with a free port (--listen
    127.0.0.1:0) and, unless told otherwise, a SQLite database in its own temporary directory.
    start() waits (bounded) for the "listening on http://127.0.0.1:PORT" line; stop() sends
    SIGTERM and kills only if the server does not exit in time. The destructor stops it, so a
    failing test leaves no process behind.

    The server binary is SYNQ_SERVER_PATH (a compile definition:
        target_compile_definitions(tst_x PRIVATE SYNQ_SERVER_PATH="$<TARGET_FILE:synq-server>")
        add_dependencies(tst_x synq-server)
    ) or the SYNQ_SERVER environment variable, or what setProgram() names.

        SynqTest::ServerProcess server({ QStringLiteral("--server-assigned-keys"),
                                         QStringLiteral("todos") });
        QVERIFY2(server.start(), qPrintable(server.errorString()));
        QUrl push = server.url().resolved(QUrl(QStringLiteral("/v1/push")));
        ...
        QCOMPARE(server.stop(), 0); // exit code; or let the destructor stop it
*/
class ServerProcess
{
public:
    explicit ServerProcess(const QStringList &extraArguments = {})
        : m_extraArguments(extraArguments), m_process(std::make_unique<QProcess>())
    {
#ifdef SYNQ_SERVER_PATH
        m_program = QStringLiteral(SYNQ_SERVER_PATH);
#endif
        if (qEnvironmentVariableIsSet("SYNQ_SERVER"))
            m_program = qEnvironmentVariable("SYNQ_SERVER");
        m_database =
                QStringLiteral("sqlite:%1").arg(m_dir.filePath(QStringLiteral("server.sqlite")));
        // SYNQ_TEST_BACKEND=postgres runs every server of a suite on the PostgreSQL named by
        // SYNQ_TEST_POSTGRES_URL (tests/shared/pg-cluster.sh), each in a fresh schema.
        const QString postgres = qEnvironmentVariable("SYNQ_TEST_POSTGRES_URL");
        if (qEnvironmentVariable("SYNQ_TEST_BACKEND") == QLatin1String("postgres")
            && !postgres.isEmpty()) {
            m_database = postgres
                    + (postgres.contains(QLatin1Char('?')) ? QLatin1Char('&') : QLatin1Char('?'))
                    + QStringLiteral("schema=t_%1").arg(QRandomGenerator::global()->generate64(),
                                                         16, 16, QLatin1Char('0'));
        }
        m_process->setProcessChannelMode(QProcess::SeparateChannels);
        QObject::connect(m_process.get(), &QProcess::readyReadStandardError, m_process.get(),
                         [this] { m_stderr += m_process->readAllStandardError(); });
    }

    ~ServerProcess()
    {
        stop();
        QObject::disconnect(m_process.get(), nullptr, nullptr, nullptr);
    }

    ServerProcess(const ServerProcess &) = delete;
    ServerProcess &operator=(const ServerProcess &) = delete;

    void setProgram(const QString &path) { m_program = path; }
    QString program() const { return m_program; }

    // The --database argument; by default sqlite:<directory()>/server.sqlite. Kept by restart().
    void setDatabase(const QString &database) { m_database = database; }
    QString database() const { return m_database; }

    // Flags besides --listen and --database; take effect at the next start().
    void setExtraArguments(const QStringList &arguments) { m_extraArguments = arguments; }
    QStringList extraArguments() const { return m_extraArguments; }

    void setProcessEnvironment(const QProcessEnvironment &environment)
    {
        m_process->setProcessEnvironment(environment);
    }

    // A temporary directory that lives as long as this object (database, tokens files...).
    QString directory() const { return m_dir.path(); }
    QString filePath(const QString &name) const { return m_dir.filePath(name); }

    QStringList arguments() const
    {
        return QStringList { QStringLiteral("--listen"), QStringLiteral("127.0.0.1:0"),
                             QStringLiteral("--database"), m_database }
        + m_extraArguments;
    }

    bool start(int timeoutMs = 15000)
    {
        stop();
        m_port = 0;
        m_error.clear();
        m_stderr.clear();
        m_stdout.clear();
        if (m_program.isEmpty()) {
            m_error = QStringLiteral("no synq-server: define SYNQ_SERVER_PATH or set SYNQ_SERVER");
            return false;
        }
        if (!m_dir.isValid()) {
            m_error = QStringLiteral("no temporary directory: %1").arg(m_dir.errorString());
            return false;
        }
        m_process->start(m_program, arguments());
        if (!m_process->waitForStarted(timeoutMs)) {
            m_error = QStringLiteral("%1 did not start: %2")
                              .arg(m_program, m_process->errorString());
            return false;
        }
        static const QRegularExpression listening(
                QStringLiteral("^listening on http://127\\.0\\.0\\.1:(\\d+)$"));
        QDeadlineTimer deadline(timeoutMs);
        while (!deadline.hasExpired()) {
            while (m_process->canReadLine()) {
                const QString line = QString::fromUtf8(m_process->readLine()).trimmed();
                m_stdout += line + QLatin1Char('\n');
                const QRegularExpressionMatch match = listening.match(line);
                if (match.hasMatch()) {
                    m_port = quint16(match.captured(1).toUInt());
                    return true;
                }
            }
            if (m_process->state() != QProcess::Running)
                break;
            m_process->waitForReadyRead(
                    int(qBound(qint64(1), deadline.remainingTime(), qint64(1000))));
        }
        m_stderr += m_process->readAllStandardError();
        m_error = m_process->state() == QProcess::Running
                ? QStringLiteral("synq-server printed no \"listening on\" line within %1 ms")
                          .arg(timeoutMs)
                : QStringLiteral("synq-server exited with code %1 before listening")
                          .arg(m_process->exitCode());
        m_error += QStringLiteral("\nargs: %1\nstdout: %2\nstderr: %3")
                           .arg(arguments().join(QLatin1Char(' ')), m_stdout,
                                QString::fromUtf8(m_stderr));
        stop();
        return false;
    }

    // Stops and starts again on the same database (and the same extra arguments, unless
    // changed in between). The port changes.
    bool restart(int timeoutMs = 15000)
    {
        stop();
        return start(timeoutMs);
    }

    // SIGTERM, then SIGKILL if it has not exited within timeoutMs. Returns the exit code, or
    // -1 if it crashed, was killed or was not running.
    int stop(int timeoutMs = 10000)
    {
        if (m_process->state() == QProcess::NotRunning)
            return m_lastExitCode;
        m_process->terminate();
        if (!m_process->waitForFinished(timeoutMs)) {
            m_process->kill();
            m_process->waitForFinished(timeoutMs);
            m_lastExitCode = -1;
        } else {
            m_lastExitCode = m_process->exitStatus() == QProcess::NormalExit ? m_process->exitCode()
                                                                              : -1;
        }
        m_stderr += m_process->readAllStandardError();
        m_port = 0;
        return m_lastExitCode;
    }

    bool isRunning() const { return m_process->state() == QProcess::Running && m_port != 0; }
    quint16 port() const { return m_port; }
    QUrl url() const
    {
        return m_port ? QUrl(QStringLiteral("http://127.0.0.1:%1").arg(m_port)) : QUrl();
    }
    QString errorString() const { return m_error; }
    // Everything the server wrote to stderr (its log) since the last start().
    QByteArray standardError()
    {
        m_stderr += m_process->readAllStandardError();
        return m_stderr;
    }
    QProcess *process() const { return m_process.get(); }

private:
    QTemporaryDir m_dir;
    QString m_program;
    QString m_database;
    QStringList m_extraArguments;
    std::unique_ptr<QProcess> m_process;
    quint16 m_port = 0;
    int m_lastExitCode = -1;
    QString m_error;
    QString m_stdout;
    QByteArray m_stderr;
};

} // namespace SynqTest

#endif
