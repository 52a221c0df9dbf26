// SPDX-License-Identifier: BSD-3-Clause
#include "benchserver.h"

#include <QtCore/QDeadlineTimer>
#include <QtCore/QRegularExpression>

namespace SynqBench {

BenchServer::BenchServer(const QString &program, const QString &database)
    : m_program(program), m_database(database)
{
    m_dir.setAutoRemove(true);
}

BenchServer::~BenchServer()
{
    stop();
}

QString BenchServer::databaseFile() const
{
    return m_dir.filePath(QStringLiteral("server.sqlite"));
}

QUrl BenchServer::url() const
{
    return m_port ? QUrl(QStringLiteral("http://127.0.0.1:%1").arg(m_port)) : QUrl();
}

bool BenchServer::start(int timeoutMs)
{
    if (!m_dir.isValid()) {
        m_error = QStringLiteral("no temporary directory: %1").arg(m_dir.errorString());
        return false;
    }
    m_process.setStandardErrorFile(m_dir.filePath(QStringLiteral("server.log")));
    m_process.setReadChannel(QProcess::StandardOutput);
    m_process.start(m_program,
                    { QStringLiteral("--listen"), QStringLiteral("127.0.0.1:0"),
                      QStringLiteral("--database"),
                      m_database.isEmpty() ? QStringLiteral("sqlite:") + databaseFile() : m_database });
    if (!m_process.waitForStarted(timeoutMs)) {
        m_error = QStringLiteral("%1 did not start: %2").arg(m_program, m_process.errorString());
        return false;
    }
    static const QRegularExpression listening(
            QStringLiteral("^listening on http://127\\.0\\.0\\.1:(\\d+)$"));
    QDeadlineTimer deadline(timeoutMs);
    while (!deadline.hasExpired() && m_process.state() == QProcess::Running) {
        while (m_process.canReadLine()) {
            const QString line = QString::fromUtf8(m_process.readLine()).trimmed();
            const QRegularExpressionMatch match = listening.match(line);
            if (match.hasMatch()) {
                m_port = quint16(match.captured(1).toUInt());
                return true;
            }
        }
        m_process.waitForReadyRead(int(qBound(qint64(1), deadline.remainingTime(), qint64(500))));
    }
    m_error = QStringLiteral("%1 printed no \"listening on\" line (exit code %2)")
                      .arg(m_program)
                      .arg(m_process.exitCode());
    stop();
    return false;
}

int BenchServer::stop(int timeoutMs)
{
    m_port = 0;
    if (m_process.state() == QProcess::NotRunning)
        return m_process.exitCode();
    m_process.terminate();
    if (!m_process.waitForFinished(timeoutMs)) {
        m_process.kill();
        m_process.waitForFinished(timeoutMs);
        return -1;
    }
    return m_process.exitStatus() == QProcess::NormalExit ? m_process.exitCode() : -1;
}

} // namespace SynqBench
