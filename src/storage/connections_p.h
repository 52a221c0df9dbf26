// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_CONNECTIONS_P_H
#define SYNQ_CONNECTIONS_P_H

//
//  W A R N I N G
//  -------------
// This file is not part of the Synq API. It may change without notice.
//

#include <synq/logging_p.h>
#include <synq/syncdatabase.h>

#include <QtCore/QHash>
#include <QtCore/QMutex>
#include <QtCore/QVariant>
#include <QtSql/QSqlDatabase>
#include <QtSql/QSqlError>
#include <QtSql/QSqlQuery>

#include <initializer_list>

QT_BEGIN_NAMESPACE
class QThread;
QT_END_NAMESPACE

namespace Synq::Storage {

// A Storage error with the driver's text as its detail (and a warning in the log).
SyncError storageError(const QString &message, const QSqlError &sqlError);
// The error of a statement that failed to run.
SyncError failed(const QSqlQuery &q);
// The error of a transaction that could not begin or commit.
SyncError transactionFailed(const QSqlError &sqlError);

/*
    Connections: the database's QSqlDatabase connections, one named connection per thread that
    touches the file, each opened with the same pragmas and each with its own cache of prepared
    statements; and transact(), which runs one unit of work in one SQL transaction on this
    thread's connection. Owns the path, the synchronous level and whether the file is open
    (after which a further thread's connection is opened as it is made).

    The table parts take their statements from here, so they run on the calling thread's
    connection, and never open a transaction themselves: which writes share one is
    SyncDatabase's decision.
*/
class Connections
{
public:
    explicit Connections(const QString &path) : m_path(path) { }
    ~Connections() { closeAll(); }
    Q_DISABLE_COPY_MOVE(Connections)

    QString path() const { return m_path; }

    bool isOpen() const { return m_open; }
    // Set by SyncDatabase::open() once the file's schema is current.
    void setOpen() { m_open = true; }

    SyncDatabase::Synchronous synchronous() const { return m_synchronous; }
    // Sets the level for connections made from now on and applies it to this thread's one if
    // the file is open (other threads' connections cannot be touched from here).
    SyncError setSynchronous(SyncDatabase::Synchronous synchronous);

    // This thread's connection, made on first use. Never opens it: a connection is opened
    // once, by SyncDatabase::open() or, after that, when it is made.
    QSqlDatabase database() const;
    // The statement for sql on this thread's connection, prepared once; sql must be a string
    // that lives as long as the program (its address is the cache key).
    QSqlQuery &statement(const char *sql) const;

    // Runs the statement for sql with values bound in order (for statements that run once per
    // call; a loop takes its statement once and binds it itself).
    SyncError run(const char *sql, std::initializer_list<QVariant> values = {}) const;

    // The first connection's set-up in open(), after the schema checks: WAL and the pragmas.
    SyncError configure(QSqlQuery &q) const;

    // Drops this thread's connection (before a worker thread ends).
    void releaseThisThread();
    // Drops every connection; the file counts as closed.
    void closeAll();

    // Runs body in one SQL transaction: committed if body returns no error, rolled back
    // otherwise (and if the commit fails).
    template<typename Body>
    SyncError transact(Body body) const
    {
        QSqlDatabase db = database();
        if (!db.transaction())
            return transactionFailed(db.lastError());
        SyncError error = body();
        if (!error.isError() && !db.commit())
            error = transactionFailed(db.lastError());
        if (error.isError())
            db.rollback();
        return error;
    }

private:
    struct ThreadConnection
    {
        QString name;
        QHash<const char *, QSqlQuery *> statements;
    };

    ThreadConnection *threadConnection() const;
    void drop(ThreadConnection *c) const;
    bool applyPragmas(QSqlDatabase &db, QString *error) const;

    const QString m_path;
    SyncDatabase::Synchronous m_synchronous = SyncDatabase::Synchronous::Full;
    bool m_open = false;

    mutable QMutex m_mutex;
    mutable QHash<QThread *, ThreadConnection *> m_connections;
};

} // namespace Synq::Storage

#endif
