// SPDX-License-Identifier: BSD-3-Clause
#include "connections_p.h"

#include "bindings_p.h"

#include <QtCore/QThread>

namespace Synq::Storage {

SyncError storageError(const QString &message, const QSqlError &sqlError)
{
    qCWarning(lcStorage) << message << sqlError.text();
    return SyncError(SyncError::Storage, message, sqlError.text());
}

SyncError failed(const QSqlQuery &q)
{
    return storageError(SyncDatabase::tr("The local database could not be read or written."),
                        q.lastError());
}

SyncError transactionFailed(const QSqlError &sqlError)
{
    return storageError(SyncDatabase::tr("The local database could not be written."), sqlError);
}

Connections::ThreadConnection *Connections::threadConnection() const
{
    QMutexLocker lock(&m_mutex);
    QThread *thread = QThread::currentThread();
    if (ThreadConnection *c = m_connections.value(thread))
        return c;
    auto *c = new ThreadConnection;
    c->name = QStringLiteral("synq:%1:%2")
                      .arg(quintptr(this), 0, 16)
                      .arg(quintptr(thread), 0, 16);
    QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), c->name);
    db.setDatabaseName(m_path);
    db.setConnectOptions(QStringLiteral("QSQLITE_BUSY_TIMEOUT=5000"));
    m_connections.insert(thread, c);
    if (m_open) {
        // A further thread's connection: same pragmas as the first one.
        QString error;
        if (!db.open() || !applyPragmas(db, &error))
            qCWarning(lcStorage) << "cannot open a connection for thread" << thread
                                 << db.lastError().text() << error;
    }
    return c;
}

QSqlDatabase Connections::database() const
{
    return QSqlDatabase::database(threadConnection()->name, false);
}

QSqlQuery &Connections::statement(const char *sql) const
{
    ThreadConnection *c = threadConnection();
    QSqlQuery *&q = c->statements[sql];
    if (!q) {
        q = new QSqlQuery(QSqlDatabase::database(c->name, false));
        q->setForwardOnly(true); // rows are read once: nothing is cached behind the cursor
        q->prepare(QString::fromLatin1(sql));
    }
    return *q;
}

SyncError Connections::run(const char *sql, std::initializer_list<QVariant> values) const
{
    QSqlQuery &q = statement(sql);
    int index = 0;
    for (const QVariant &value : values)
        bind(q, index++, value);
    if (!q.exec())
        return failed(q);
    return SyncError();
}

void Connections::drop(ThreadConnection *c) const
{
    qDeleteAll(c->statements);
    c->statements.clear();
    {
        QSqlDatabase db = QSqlDatabase::database(c->name, false);
        if (db.isOpen())
            db.close();
    }
    QSqlDatabase::removeDatabase(c->name);
    delete c;
}

bool Connections::applyPragmas(QSqlDatabase &db, QString *error) const
{
    QSqlQuery q(db);
    const QString sync = m_synchronous == SyncDatabase::Synchronous::Full
            ? QStringLiteral("PRAGMA synchronous = FULL")
            : QStringLiteral("PRAGMA synchronous = NORMAL");
    for (const QString &pragma : { QStringLiteral("PRAGMA foreign_keys = ON"), sync }) {
        if (!q.exec(pragma)) {
            *error = q.lastError().text();
            return false;
        }
    }
    return true;
}

SyncError Connections::configure(QSqlQuery &q) const
{
    if (!q.exec(QStringLiteral("PRAGMA journal_mode = WAL")) || !q.next())
        return failed(q);
    if (q.value(0).toString().compare(QLatin1String("wal"), Qt::CaseInsensitive) != 0) {
        return SyncError(SyncError::Storage,
                         SyncDatabase::tr("The database %1 cannot use write-ahead logging.")
                                 .arg(m_path),
                         q.value(0).toString());
    }
    QSqlDatabase db = database();
    QString pragmaError;
    if (!applyPragmas(db, &pragmaError)) {
        return SyncError(SyncError::Storage,
                         SyncDatabase::tr("Cannot configure the database %1.").arg(m_path),
                         pragmaError);
    }
    return SyncError();
}

SyncError Connections::setSynchronous(SyncDatabase::Synchronous synchronous)
{
    m_synchronous = synchronous;
    if (!m_open)
        return SyncError();
    QMutexLocker lock(&m_mutex);
    ThreadConnection *c = m_connections.value(QThread::currentThread());
    lock.unlock();
    // Only this thread's connection may be used from here; others pick the level up when they
    // are created. Engines change it from their own thread.
    if (!c)
        return SyncError();
    QSqlDatabase db = QSqlDatabase::database(c->name, false);
    QString error;
    if (!applyPragmas(db, &error))
        return SyncError(SyncError::Storage,
                         SyncDatabase::tr("Cannot change the durability level."), error);
    return SyncError();
}

void Connections::releaseThisThread()
{
    ThreadConnection *c = nullptr;
    {
        QMutexLocker lock(&m_mutex);
        c = m_connections.take(QThread::currentThread());
    }
    if (c)
        drop(c);
}

void Connections::closeAll()
{
    QHash<QThread *, ThreadConnection *> all;
    {
        QMutexLocker lock(&m_mutex);
        all.swap(m_connections);
    }
    for (ThreadConnection *c : std::as_const(all))
        drop(c);
    m_open = false;
}

} // namespace Synq::Storage
