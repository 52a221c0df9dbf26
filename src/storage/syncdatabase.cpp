// SPDX-License-Identifier: BSD-3-Clause
#include <synq/syncdatabase.h>

#include <synq/json.h>

#include <QtCore/QDir>
#include <QtCore/QFileInfo>
#include <QtCore/QLoggingCategory>
#include <QtCore/QMutex>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QThread>
#include <QtCore/QUuid>
#include <QtSql/QSqlError>
#include <QtSql/QSqlQuery>
#include <QtSql/QSqlRecord>

#include <array>

Q_LOGGING_CATEGORY(lcStorage, "synq.storage", QtInfoMsg)

namespace Synq {

namespace {

qint64 toMs(const QDateTime &dt)
{
    return dt.isValid() ? dt.toMSecsSinceEpoch() : 0;
}

QDateTime fromMs(const QVariant &v)
{
    const qint64 ms = v.toLongLong();
    return ms > 0 ? QDateTime::fromMSecsSinceEpoch(ms, Qt::UTC) : QDateTime();
}

// Binds value to a prepared statement's placeholder, unless the statement still holds that very
// value from its previous run (bound values stay between runs). Qt 6.4's
// QSqlResult::bindValue() formats the placeholder's name and looks it up in a hash on every
// call: a fifth of a bulk write's SQL time when every column was bound for every row. "The
// same" means the same type and value and, for text and bytes, the same nullness: a null
// QString binds NULL, "" binds ''. NULL is bound as a null QString, so that it can be recognised.
void bind(QSqlQuery &q, int index, const QVariant &value)
{
    static const QVariant null { QString() };
    const QVariant &v = value.isValid() ? value : null;
    const QVariant bound = q.boundValue(index);
    auto isNullText = [](const QVariant &x) {
        switch (x.metaType().id()) {
        case QMetaType::QString:
            return static_cast<const QString *>(x.constData())->isNull();
        case QMetaType::QByteArray:
            return static_cast<const QByteArray *>(x.constData())->isNull();
        default:
            return false;
        }
    };
    if (bound.metaType() == v.metaType() && bound == v && isNullText(bound) == isNullText(v))
        return;
    q.bindValue(index, v);
}

// JSON text is bound as its UTF-8 bytes and stored through CAST(? AS TEXT): SQLite takes the
// bytes as they are (the file's encoding is UTF-8), where a QString would be converted to
// UTF-16 by Qt and back to UTF-8 by SQLite, for every row.
QVariant jsonText(const QByteArray &utf8)
{
    return QVariant(utf8);
}

QVariant jsonOrNull(const QJsonObject &object, bool present)
{
    return present ? jsonText(Json::encode(object)) : QVariant();
}

// SQLite's NOT NULL columns take "" but not a null QString: the empty scope is "".
QString text(const QString &s)
{
    return s.isNull() ? QStringLiteral("") : s;
}

// The six error columns of a transaction (code, message, detail, retryable, HTTP status,
// causing transaction), bound from position first; readError() reads them back.
void bindError(QSqlQuery &q, int first, const SyncError &error)
{
    bind(q, first, int(error.code()));
    bind(q, first + 1, error.message());
    bind(q, first + 2, error.detail());
    bind(q, first + 3, error.isRetryable() ? 1 : 0);
    bind(q, first + 4, error.httpStatus());
    bind(q, first + 5, error.transactionId());
}

// A mutation's own twelve columns, in this order from position first: id, collection, key, type,
// base_version, original, modified, changes, metadata, state, created_at, updated_at — in the
// mutations table and as the m_ columns of a transaction holding its only mutation.
// modifiedText: modified as already encoded (an invalid QVariant: encode it).
void bindMutation(QSqlQuery &q, int first, const MutationRecord &m, const QVariant &modifiedText)
{
    bind(q, first, m.id);
    bind(q, first + 1, m.collection);
    bind(q, first + 2, m.key);
    bind(q, first + 3, int(m.type));
    bind(q, first + 4, m.baseVersion);
    bind(q, first + 5, jsonOrNull(m.original, m.type != MutationType::Insert));
    bind(q, first + 6,
         modifiedText.isValid() ? modifiedText
                                : jsonOrNull(m.modified, m.type != MutationType::Remove));
    // An insert's changes are its whole object (= modified): not stored twice.
    bind(q, first + 7, jsonOrNull(m.changes, m.type == MutationType::Update));
    bind(q, first + 8,
         m.metadata.isUndefined() || m.metadata.isNull()
                 ? QVariant()
                 : jsonText(Json::encode(QJsonObject { { QStringLiteral("v"), m.metadata } })));
    bind(q, first + 9, int(m.state));
    bind(q, first + 10, toMs(m.createdAt));
    bind(q, first + 11, toMs(m.updatedAt));
}

QJsonObject decode(const QVariant &v);

MutationRecord readMutation(const QSqlQuery &q, int first, const QString &transactionId,
                            int sequence)
{
    MutationRecord m;
    m.id = q.value(first).toString();
    m.transactionId = transactionId;
    m.sequence = sequence;
    m.collection = q.value(first + 1).toString();
    m.key = q.value(first + 2).toString();
    m.type = MutationType(q.value(first + 3).toInt());
    m.baseVersion = q.value(first + 4).toLongLong();
    m.original = decode(q.value(first + 5));
    m.modified = decode(q.value(first + 6));
    m.changes = decode(q.value(first + 7));
    if (m.type == MutationType::Insert && q.value(first + 7).isNull())
        m.changes = m.modified; // stored once, as modified
    m.metadata = decode(q.value(first + 8)).value(QStringLiteral("v"));
    m.state = MutationState(q.value(first + 9).toInt());
    m.createdAt = fromMs(q.value(first + 10));
    m.updatedAt = fromMs(q.value(first + 11));
    return m;
}

QJsonObject decode(const QVariant &v)
{
    QJsonObject object;
    if (!v.isNull())
        Json::decodeObject(v.toString().toUtf8(), &object);
    return object;
}

// Schema steps: migration N takes a database from user_version N to N + 1. No step may lose or
// change data (an index is not data; a rebuilt table gets every row as it was).
const char *const migrationV1[] = {
    // ord is the order of first appearance in this replica, which is the order of the rows in
    // a collection; it survives key remaps (a remap must not move a row).
    "CREATE TABLE items ("
    " ord INTEGER PRIMARY KEY,"
    " collection TEXT NOT NULL,"
    " scope TEXT NOT NULL,"
    " key TEXT NOT NULL,"
    " version INTEGER NOT NULL DEFAULT 0,"
    " data TEXT,"
    " local_data TEXT,"
    " local_deleted INTEGER NOT NULL DEFAULT 0,"
    " deleted INTEGER NOT NULL DEFAULT 0,"
    " updated_at INTEGER NOT NULL DEFAULT 0,"
    " UNIQUE (collection, scope, key))",
    "CREATE INDEX items_order ON items (collection, scope, ord)",
    "CREATE TABLE transactions ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " id TEXT NOT NULL UNIQUE,"
    " scope TEXT NOT NULL,"
    " strategy INTEGER NOT NULL,"
    " state INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL,"
    " current_attempt INTEGER NOT NULL DEFAULT 0,"
    " queued_behind TEXT,"
    " error_code INTEGER NOT NULL DEFAULT 0,"
    " error_message TEXT,"
    " error_detail TEXT,"
    " error_retryable INTEGER NOT NULL DEFAULT 0,"
    " error_http INTEGER NOT NULL DEFAULT 0,"
    " error_tx TEXT)",
    "CREATE INDEX transactions_scope_state ON transactions (scope, state)",
    "CREATE TABLE mutations ("
    " id TEXT PRIMARY KEY,"
    " tx_id TEXT NOT NULL REFERENCES transactions (id) ON DELETE CASCADE,"
    " seq INTEGER NOT NULL,"
    " collection TEXT NOT NULL,"
    " scope TEXT NOT NULL,"
    " key TEXT NOT NULL,"
    " type INTEGER NOT NULL,"
    " base_version INTEGER NOT NULL DEFAULT 0,"
    " original TEXT,"
    " modified TEXT,"
    " changes TEXT,"
    " metadata TEXT,"
    " state INTEGER NOT NULL DEFAULT 0,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL)",
    "CREATE INDEX mutations_tx ON mutations (tx_id, seq)",
    "CREATE INDEX mutations_item ON mutations (collection, scope, key)",
    "CREATE TABLE attempts ("
    " id TEXT PRIMARY KEY,"
    " tx_id TEXT NOT NULL REFERENCES transactions (id) ON DELETE CASCADE,"
    " started_at INTEGER NOT NULL,"
    " completed_at INTEGER,"
    " error_code INTEGER NOT NULL DEFAULT 0,"
    " error_message TEXT,"
    " error_detail TEXT,"
    " retry_at INTEGER)",
    "CREATE INDEX attempts_tx ON attempts (tx_id, started_at)",
    "CREATE TABLE cursors ("
    " collection TEXT NOT NULL,"
    " scope TEXT NOT NULL,"
    " cursor TEXT NOT NULL,"
    " updated_at INTEGER NOT NULL,"
    " PRIMARY KEY (collection, scope)) WITHOUT ROWID",
    "CREATE TABLE id_map ("
    " collection TEXT NOT NULL,"
    " scope TEXT NOT NULL,"
    " client_key TEXT NOT NULL,"
    " server_key TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " PRIMARY KEY (collection, scope, client_key)) WITHOUT ROWID",
    "CREATE TABLE tombstones ("
    " collection TEXT NOT NULL,"
    " scope TEXT NOT NULL,"
    " key TEXT NOT NULL,"
    " version INTEGER NOT NULL DEFAULT 0,"
    " deleted_at INTEGER NOT NULL,"
    " confirmed INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (collection, scope, key)) WITHOUT ROWID",
    nullptr,
};

// Schema 2: the meta table (client id), the highest applied version per cursor (which makes
// a cursor that moves backwards detectable), and the transaction a compacted one travels in.
const char *const migrationV2[] = {
    "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    "ALTER TABLE cursors ADD COLUMN max_version INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE transactions ADD COLUMN merged_into TEXT",
    nullptr,
};

// Schema 3: no index on mutations by item. Nothing reads mutations that way (the engine keeps
// each item's pending mutations in memory), and the index cost every local write a B-tree.
const char *const migrationV3[] = {
    "DROP INDEX IF EXISTS mutations_item",
    nullptr,
};

// Schema 4: fewer B-trees per local write. transactions.seq without AUTOINCREMENT. A plain INTEGER PRIMARY KEY still gives a
// new row a higher seq than every existing one (which is all the commit order needs); the
// sqlite_sequence row AUTOINCREMENT updated cost every local write one more B-tree page.
// SQLite cannot drop AUTOINCREMENT in place: the table is rebuilt, with the same columns in
// the same order. open() turns foreign keys off around this step — with them on, dropping the
// old table would delete every mutation and attempt through ON DELETE CASCADE.
const char *const migrationV4[] = {
    "CREATE TABLE transactions_v4 ("
    " seq INTEGER PRIMARY KEY,"
    " id TEXT NOT NULL UNIQUE,"
    " scope TEXT NOT NULL,"
    " strategy INTEGER NOT NULL,"
    " state INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL,"
    " current_attempt INTEGER NOT NULL DEFAULT 0,"
    " queued_behind TEXT,"
    " error_code INTEGER NOT NULL DEFAULT 0,"
    " error_message TEXT,"
    " error_detail TEXT,"
    " error_retryable INTEGER NOT NULL DEFAULT 0,"
    " error_http INTEGER NOT NULL DEFAULT 0,"
    " error_tx TEXT,"
    " merged_into TEXT)",
    "INSERT INTO transactions_v4 (seq, id, scope, strategy, state, created_at, updated_at,"
    " current_attempt, queued_behind, error_code, error_message, error_detail, error_retryable,"
    " error_http, error_tx, merged_into) SELECT seq, id, scope, strategy, state, created_at,"
    " updated_at, current_attempt, queued_behind, error_code, error_message, error_detail,"
    " error_retryable, error_http, error_tx, merged_into FROM transactions",
    "DROP TABLE transactions",
    "ALTER TABLE transactions_v4 RENAME TO transactions",
    "CREATE INDEX transactions_scope_state ON transactions (scope, state)",
    // Mutations are written, read and updated by transaction and place in it: keyed so, one
    // B-tree holds them (it was three — the table, the id index and mutations_tx). The id
    // (the idempotency key, from KeyGenerator) stays unique by how it is made.
    "CREATE TABLE mutations_v4 ("
    " id TEXT NOT NULL,"
    " tx_id TEXT NOT NULL REFERENCES transactions (id) ON DELETE CASCADE,"
    " seq INTEGER NOT NULL,"
    " collection TEXT NOT NULL,"
    " scope TEXT NOT NULL,"
    " key TEXT NOT NULL,"
    " type INTEGER NOT NULL,"
    " base_version INTEGER NOT NULL DEFAULT 0,"
    " original TEXT,"
    " modified TEXT,"
    " changes TEXT,"
    " metadata TEXT,"
    " state INTEGER NOT NULL DEFAULT 0,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL,"
    " PRIMARY KEY (tx_id, seq)) WITHOUT ROWID",
    "INSERT INTO mutations_v4 (id, tx_id, seq, collection, scope, key, type, base_version,"
    " original, modified, changes, metadata, state, created_at, updated_at) SELECT id, tx_id,"
    " seq, collection, scope, key, type, base_version, original, modified, changes, metadata,"
    " state, created_at, updated_at FROM mutations",
    "DROP TABLE mutations",
    "ALTER TABLE mutations_v4 RENAME TO mutations",
    nullptr,
};

// Schema 5: fewer B-trees per outbox write.
// - No (scope, state) index on transactions: every local write and every state change paid
//   for it, and it served one query, the active transactions read at startup. Those are found
//   from the active_from mark in meta instead: a seq at or below every transaction that is not
//   Completed, so they are read as a range of the table's own key. writeSynced() moves the mark
//   past transactions as they complete (Completed is final, see Lifecycle::canTransition);
//   deletes keep it at or below the seq the next new transaction gets (MAX(seq) + 1).
// - attempts keyed by (transaction, attempt) in one WITHOUT ROWID B-tree (it was three: the
//   table, the id index and attempts_tx); attempt ids (KeyGenerator) stay unique by how they
//   are made.
const char *const migrationV5[] = {
    "DROP INDEX transactions_scope_state",
    "INSERT OR REPLACE INTO meta (name, value) SELECT 'active_from',"
    " COALESCE((SELECT MIN(seq) FROM transactions WHERE state <> 4),"
    " (SELECT COALESCE(MAX(seq), 0) + 1 FROM transactions))",
    "CREATE TABLE attempts_v5 ("
    " id TEXT NOT NULL,"
    " tx_id TEXT NOT NULL REFERENCES transactions (id) ON DELETE CASCADE,"
    " started_at INTEGER NOT NULL,"
    " completed_at INTEGER,"
    " error_code INTEGER NOT NULL DEFAULT 0,"
    " error_message TEXT,"
    " error_detail TEXT,"
    " retry_at INTEGER,"
    " PRIMARY KEY (tx_id, id)) WITHOUT ROWID",
    "INSERT INTO attempts_v5 (id, tx_id, started_at, completed_at, error_code, error_message,"
    " error_detail, retry_at) SELECT id, tx_id, started_at, completed_at, error_code,"
    " error_message, error_detail, retry_at FROM attempts",
    "DROP TABLE attempts",
    "ALTER TABLE attempts_v5 RENAME TO attempts",
    nullptr,
};

// Schema 6: a transaction of one mutation — what insert(), update() and remove() make — holds
// it in its own row (the m_ columns; m_id set), so that such a local write touches one outbox
// B-tree instead of two, and settling it updates one row. Transactions of several mutations
// keep them in mutations. The step moves the one mutation of transactions written before it
// into their rows, so that for every file "one mutation" and "held in the row" are the same.
// The outbox_mutations view shows every mutation, wherever it is held, with the columns of
// the mutations table.
const char *const migrationV6[] = {
    "ALTER TABLE transactions ADD COLUMN m_id TEXT",
    "ALTER TABLE transactions ADD COLUMN m_collection TEXT",
    "ALTER TABLE transactions ADD COLUMN m_key TEXT",
    "ALTER TABLE transactions ADD COLUMN m_type INTEGER",
    "ALTER TABLE transactions ADD COLUMN m_base_version INTEGER",
    "ALTER TABLE transactions ADD COLUMN m_original TEXT",
    "ALTER TABLE transactions ADD COLUMN m_modified TEXT",
    "ALTER TABLE transactions ADD COLUMN m_changes TEXT",
    "ALTER TABLE transactions ADD COLUMN m_metadata TEXT",
    "ALTER TABLE transactions ADD COLUMN m_state INTEGER",
    "ALTER TABLE transactions ADD COLUMN m_created_at INTEGER",
    "ALTER TABLE transactions ADD COLUMN m_updated_at INTEGER",
    "UPDATE transactions SET (m_id, m_collection, m_key, m_type, m_base_version, m_original,"
    " m_modified, m_changes, m_metadata, m_state, m_created_at, m_updated_at) = (SELECT id,"
    " collection, key, type, base_version, original, modified, changes, metadata, state,"
    " created_at, updated_at FROM mutations m WHERE m.tx_id = transactions.id)"
    " WHERE (SELECT count(*) FROM mutations m WHERE m.tx_id = transactions.id) = 1",
    "DELETE FROM mutations WHERE tx_id IN (SELECT id FROM transactions WHERE m_id IS NOT NULL)",
    "CREATE VIEW outbox_mutations AS"
    " SELECT id, tx_id, seq, collection, scope, key, type, base_version, original, modified,"
    " changes, metadata, state, created_at, updated_at FROM mutations"
    " UNION ALL SELECT m_id, id, 0, m_collection, scope, m_key, m_type, m_base_version,"
    " m_original, m_modified, m_changes, m_metadata, m_state, m_created_at, m_updated_at"
    " FROM transactions WHERE m_id IS NOT NULL",
    nullptr,
};

// The first schema version whose migration rebuilds a table referenced by foreign keys.
constexpr int FirstRebuildingMigration = 3; // migrationV4

const char *const *const migrations[] = { migrationV1, migrationV2, migrationV3, migrationV4,
                                          migrationV5, migrationV6 };
static_assert(sizeof(migrations) / sizeof(migrations[0]) == SyncDatabase::SchemaVersion,
              "one migration per schema version");

} // namespace

struct ThreadConnection
{
    QString name;
    QHash<const char *, QSqlQuery *> statements;
};

class SyncDatabasePrivate
{
public:
    QString path;
    SyncDatabase::Synchronous synchronous = SyncDatabase::Synchronous::Full;
    bool open = false;
    int schemaVersion = 0;

    mutable QMutex mutex;
    mutable QHash<QThread *, ThreadConnection *> connections;

    ThreadConnection *threadConnection() const;
    // Never opens: a connection is opened once, by open() or threadConnection().
    QSqlDatabase database() const
    {
        return QSqlDatabase::database(threadConnection()->name, false);
    }
    QSqlQuery &statement(const char *sql) const;
    SyncError loadTransactions(const QString &scope, bool includeCompleted, const QString &id,
                               QList<TransactionRecord> *out) const;
    qint64 activeFrom(SyncError *error) const;
    SyncError keepActiveFromBelowNextSeq() const;
    void dropConnection(ThreadConnection *c) const;
    bool applyPragmas(QSqlDatabase &db, QString *error) const;

    SyncError storageError(const QString &message, const QSqlError &sqlError) const
    {
        qCWarning(lcStorage) << message << sqlError.text();
        return SyncError(SyncError::Storage, message, sqlError.text());
    }
    // Runs body in one SQL transaction: committed if body returns no error, rolled back
    // otherwise (and if the commit fails).
    template<typename Body>
    SyncError transact(Body body) const
    {
        QSqlDatabase db = database();
        if (!db.transaction())
            return storageError(SyncDatabase::tr("The local database could not be written."),
                                db.lastError());
        SyncError error = body();
        if (!error.isError() && !db.commit())
            error = storageError(SyncDatabase::tr("The local database could not be written."),
                                 db.lastError());
        if (error.isError())
            db.rollback();
        return error;
    }

    SyncError failed(const QSqlQuery &q) const
    {
        return storageError(SyncDatabase::tr("The local database could not be read or written."),
                            q.lastError());
    }
};

ThreadConnection *SyncDatabasePrivate::threadConnection() const
{
    QMutexLocker lock(&mutex);
    QThread *thread = QThread::currentThread();
    if (ThreadConnection *c = connections.value(thread))
        return c;
    auto *c = new ThreadConnection;
    c->name = QStringLiteral("synq:%1:%2")
                      .arg(quintptr(this), 0, 16)
                      .arg(quintptr(thread), 0, 16);
    QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), c->name);
    db.setDatabaseName(path);
    db.setConnectOptions(QStringLiteral("QSQLITE_BUSY_TIMEOUT=5000"));
    connections.insert(thread, c);
    if (open) {
        // A further thread's connection: same pragmas as the first one.
        QString error;
        if (!db.open() || !applyPragmas(db, &error))
            qCWarning(lcStorage) << "cannot open a connection for thread" << thread
                                 << db.lastError().text() << error;
    }
    return c;
}

QSqlQuery &SyncDatabasePrivate::statement(const char *sql) const
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

void SyncDatabasePrivate::dropConnection(ThreadConnection *c) const
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

bool SyncDatabasePrivate::applyPragmas(QSqlDatabase &db, QString *error) const
{
    QSqlQuery q(db);
    const QString sync = synchronous == SyncDatabase::Synchronous::Full
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

/*!
    \class Synq::SyncDatabase
    \inmodule Synq
    \internal
*/

SyncDatabase::SyncDatabase(const QString &path) : d(new SyncDatabasePrivate)
{
    d->path = path;
}

SyncDatabase::~SyncDatabase()
{
    close();
}

QString SyncDatabase::path() const
{
    return d->path;
}

bool SyncDatabase::isOpen() const
{
    return d->open;
}

int SyncDatabase::schemaVersion() const
{
    return d->schemaVersion;
}

SyncDatabase::Synchronous SyncDatabase::synchronous() const
{
    return d->synchronous;
}

QSqlDatabase SyncDatabase::connection() const
{
    return d->database();
}

void SyncDatabase::releaseThreadConnection()
{
    ThreadConnection *c = nullptr;
    {
        QMutexLocker lock(&d->mutex);
        c = d->connections.take(QThread::currentThread());
    }
    if (c)
        d->dropConnection(c);
}

void SyncDatabase::close()
{
    QHash<QThread *, ThreadConnection *> all;
    {
        QMutexLocker lock(&d->mutex);
        all.swap(d->connections);
    }
    for (ThreadConnection *c : std::as_const(all))
        d->dropConnection(c);
    d->open = false;
}

SyncError SyncDatabase::open(Synchronous synchronous)
{
    if (d->open)
        return SyncError();
    d->synchronous = synchronous;

    if (d->path.isEmpty())
        return SyncError(SyncError::Storage, tr("No database path is set."));

    const QFileInfo info(d->path);
    if (!QDir().mkpath(info.absolutePath())) {
        return SyncError(SyncError::Storage,
                         tr("Cannot create the folder for the database at %1.")
                                 .arg(info.absolutePath()));
    }

    QSqlDatabase db = d->database();
    QSqlQuery q(db);
    auto fail = [&](const SyncError &error) {
        // Let go of the connection before close() removes it.
        q = QSqlQuery();
        db = QSqlDatabase();
        close();
        return error;
    };

    if (!db.open()) {
        return fail(d->storageError(tr("Cannot open the database file %1.").arg(d->path),
                                    db.lastError()));
    }

    // Read-only checks first: a foreign file must come out of this untouched.
    q = QSqlQuery(db);
    qint64 applicationId = 0;
    int userVersion = 0;
    int objects = 0;
    if (!q.exec(QStringLiteral("PRAGMA application_id")) || !q.next()) {
        return fail(d->storageError(
                tr("The file %1 is not a Synq database or is damaged.").arg(d->path),
                q.lastError()));
    }
    applicationId = q.value(0).toLongLong();
    if (!q.exec(QStringLiteral("PRAGMA user_version")) || !q.next())
        return fail(d->failed(q));
    userVersion = q.value(0).toInt();
    if (!q.exec(QStringLiteral("SELECT count(*) FROM sqlite_master")) || !q.next()) {
        return fail(d->storageError(
                tr("The file %1 is not a Synq database or is damaged.").arg(d->path),
                q.lastError()));
    }
    objects = q.value(0).toInt();

    if (applicationId != ApplicationId && (applicationId != 0 || objects != 0)) {
        return fail(SyncError(SyncError::Storage,
                              tr("The file %1 is not a Synq database.").arg(d->path),
                              QStringLiteral("application_id=%1 objects=%2")
                                      .arg(applicationId)
                                      .arg(objects)));
    }
    if (userVersion > SchemaVersion) {
        return fail(SyncError(
                SyncError::Storage,
                tr("The database %1 was written by a newer version of Synq (schema %2; this "
                   "version reads up to %3).")
                        .arg(d->path)
                        .arg(userVersion)
                        .arg(SchemaVersion)));
    }

    if (!q.exec(QStringLiteral("PRAGMA journal_mode = WAL")) || !q.next())
        return fail(d->failed(q));
    if (q.value(0).toString().compare(QLatin1String("wal"), Qt::CaseInsensitive) != 0) {
        return fail(SyncError(SyncError::Storage,
                              tr("The database %1 cannot use write-ahead logging.").arg(d->path),
                              q.value(0).toString()));
    }
    QString pragmaError;
    if (!d->applyPragmas(db, &pragmaError)) {
        return fail(SyncError(SyncError::Storage,
                              tr("Cannot configure the database %1.").arg(d->path), pragmaError));
    }

    // A table rebuild runs with foreign keys off (see migrationV4); the check before COMMIT
    // proves every reference still resolves. (The pragma is a no-op inside a transaction.)
    const bool rebuilds = userVersion <= FirstRebuildingMigration && objects != 0;
    if (rebuilds && !q.exec(QStringLiteral("PRAGMA foreign_keys = OFF")))
        return fail(d->failed(q));
    struct ForeignKeysBackOn
    {
        QSqlQuery &q;
        bool active;
        ~ForeignKeysBackOn()
        {
            if (active)
                q.exec(QStringLiteral("PRAGMA foreign_keys = ON"));
        }
    } foreignKeysBackOn { q, rebuilds };

    // BEGIN IMMEDIATE takes the write lock: it fails here, with a clear error, for a file we
    // can read but not write, instead of at the user's first edit.
    if (!q.exec(QStringLiteral("BEGIN IMMEDIATE"))) {
        return fail(d->storageError(tr("The database %1 cannot be written.").arg(d->path),
                                    q.lastError()));
    }
    for (int version = userVersion; version < SchemaVersion; ++version) {
        for (const char *const *sql = migrations[version]; *sql; ++sql) {
            if (!q.exec(QString::fromLatin1(*sql))) {
                const SyncError error = d->storageError(
                        tr("Cannot upgrade the database %1 to schema %2.")
                                .arg(d->path)
                                .arg(version + 1),
                        q.lastError());
                q.exec(QStringLiteral("ROLLBACK"));
                return fail(error);
            }
        }
        qCDebug(lcStorage) << "migrated" << d->path << "to schema" << version + 1;
    }
    if (rebuilds) {
        if (!q.exec(QStringLiteral("PRAGMA foreign_key_check")) || q.next()) {
            const SyncError error(SyncError::Storage,
                                  tr("Cannot upgrade the database %1: a rebuilt table lost "
                                     "references.")
                                          .arg(d->path),
                                  q.lastError().isValid() ? q.lastError().text()
                                                          : q.record().value(0).toString());
            q.finish();
            q.exec(QStringLiteral("ROLLBACK"));
            return fail(error);
        }
        q.finish();
    }
    // Written only when they change, so that opening a current file writes nothing to it.
    const bool stamp = applicationId != ApplicationId || userVersion != SchemaVersion;
    if ((stamp
         && (!q.exec(QStringLiteral("PRAGMA application_id = %1").arg(ApplicationId))
             || !q.exec(QStringLiteral("PRAGMA user_version = %1").arg(SchemaVersion))))
        || !q.exec(QStringLiteral("COMMIT"))) {
        const SyncError error = d->storageError(
                tr("The database %1 cannot be written.").arg(d->path), q.lastError());
        q.exec(QStringLiteral("ROLLBACK"));
        return fail(error);
    }

    d->schemaVersion = SchemaVersion;
    d->open = true;
    qCDebug(lcStorage) << "opened" << d->path;
    return SyncError();
}

SyncError SyncDatabase::setSynchronous(Synchronous synchronous)
{
    d->synchronous = synchronous;
    if (!d->open)
        return SyncError();
    QMutexLocker lock(&d->mutex);
    const auto connections = d->connections;
    lock.unlock();
    for (ThreadConnection *c : connections) {
        // Only this thread's connection may be used from here; others pick the level up
        // when they are created. Engines change it from their own thread.
        if (connections.key(c) != QThread::currentThread())
            continue;
        QSqlDatabase db = QSqlDatabase::database(c->name, false);
        QString error;
        if (!d->applyPragmas(db, &error))
            return SyncError(SyncError::Storage, tr("Cannot change the durability level."),
                             error);
    }
    return SyncError();
}

SyncError SyncDatabase::loadItems(const QString &collection, const QString &scope,
                                  QList<StoredItem> *out, qint64 after, qint64 upTo,
                                  int limit) const
{
    QSqlQuery &q = d->statement(
            "SELECT ord, key, version, COALESCE(local_data, data), local_data IS NOT NULL,"
            " CASE WHEN local_data IS NOT NULL THEN data END FROM items WHERE collection = ? AND scope = ?"
            " AND ord > ? AND ord <= ? AND local_deleted = 0"
            " AND deleted = 0 AND COALESCE(local_data, data) IS NOT NULL ORDER BY ord LIMIT ?");
    bind(q, 0, collection);
    bind(q, 1, text(scope));
    bind(q, 2, after);
    bind(q, 3, upTo);
    bind(q, 4, limit);
    if (!q.exec())
        return d->failed(q);
    out->clear();
    while (q.next()) {
        StoredItem item;
        item.ord = q.value(0).toLongLong();
        item.key = q.value(1).toString();
        item.version = q.value(2).toLongLong();
        item.json = q.value(3).toString().toUtf8();
        item.json.squeeze(); // toUtf8() reserves three bytes per character
        item.optimistic = q.value(4).toBool();
        if (item.optimistic && !q.value(5).isNull())
            item.synced = decode(q.value(5));
        out->append(std::move(item));
    }
    q.finish();
    return SyncError();
}

QJsonObject SyncDatabase::StoredItem::data() const
{
    QJsonObject object;
    Json::decodeObject(json, &object);
    return object;
}

SyncError SyncDatabase::lastOrd(const QString &collection, const QString &scope,
                                qint64 *ord) const
{
    QSqlQuery &q = d->statement("SELECT MAX(ord) FROM items WHERE collection = ? AND scope = ?");
    bind(q, 0, collection);
    bind(q, 1, text(scope));
    if (!q.exec())
        return d->failed(q);
    *ord = q.next() ? q.value(0).toLongLong() : 0; // NULL (no items) reads as 0
    q.finish();
    return SyncError();
}

SyncError SyncDatabase::visibleOrd(const QString &collection, const QString &scope,
                                   const QString &key, qint64 *ord) const
{
    QSqlQuery &q = d->statement(
            "SELECT ord FROM items WHERE collection = ? AND scope = ? AND key = ?"
            " AND local_deleted = 0 AND deleted = 0 AND COALESCE(local_data, data) IS NOT NULL");
    bind(q, 0, collection);
    bind(q, 1, text(scope));
    bind(q, 2, key);
    if (!q.exec())
        return d->failed(q);
    *ord = q.next() ? q.value(0).toLongLong() : 0;
    q.finish();
    return SyncError();
}

SyncError SyncDatabase::writeLocalTransaction(const TransactionRecord &tx,
                                              QList<ItemWrite> *writes)
{
    return d->transact([&]() -> SyncError {
        const qint64 now = toMs(tx.updatedAt.isValid() ? tx.updatedAt : QDateTime::currentDateTimeUtc());

        QSqlQuery &item = d->statement(
                "INSERT INTO items (collection, scope, key, version, data, local_data,"
                " local_deleted, deleted, updated_at) VALUES (?, ?, ?, 0, NULL, CAST(? AS TEXT), ?, 0, ?)"
                " ON CONFLICT (collection, scope, key) DO UPDATE SET"
                // An item that was not visible and comes back takes a fresh place at the end.
                " ord = CASE WHEN items.local_deleted = 1 OR items.deleted = 1"
                " OR COALESCE(items.local_data, items.data) IS NULL"
                " THEN (SELECT MAX(ord) + 1 FROM items) ELSE items.ord END,"
                " local_data = excluded.local_data, local_deleted = excluded.local_deleted,"
                " updated_at = excluded.updated_at RETURNING ord");
        QSqlQuery &tombstone = d->statement(
                "INSERT INTO tombstones (collection, scope, key, version, deleted_at, confirmed)"
                " SELECT collection, scope, key, version, ?, 0 FROM items"
                " WHERE collection = ? AND scope = ? AND key = ?"
                " ON CONFLICT (collection, scope, key) DO UPDATE SET deleted_at = excluded.deleted_at");
        // The common cases without RETURNING (which costs SQLite a temporary result): a row
        // the caller sees keeps its place; a key never seen is a plain insert.
        QSqlQuery &visibleItem = d->statement(
                "UPDATE items SET local_data = CAST(? AS TEXT), local_deleted = ?, updated_at = ?"
                " WHERE collection = ? AND scope = ? AND key = ?");
        QSqlQuery &newItem = d->statement(
                "INSERT INTO items (collection, scope, key, version, data, local_data,"
                " local_deleted, deleted, updated_at) VALUES (?, ?, ?, 0, NULL, CAST(? AS TEXT), ?, 0, ?)"
                " ON CONFLICT (collection, scope, key) DO NOTHING");
        // The text an item was written with serves the mutation that made that state too.
        QList<QVariant> modifiedText;
        for (qsizetype i = 0; i < writes->size(); ++i) {
            ItemWrite &w = (*writes)[i];
            if (w.visible) {
                w.json = Json::encode(*w.visible);
                w.json.squeeze(); // held by the model as it is
            }
            const QVariant local = w.visible ? jsonText(w.json) : QVariant();
            if (w.visible && w.lastMutation >= 0 && w.lastMutation < tx.mutations.size()) {
                if (modifiedText.isEmpty())
                    modifiedText.resize(tx.mutations.size());
                modifiedText[w.lastMutation] = local;
            }
            bool written = false;
            if (w.visibleOrd > 0) {
                bind(visibleItem, 0, local);
                bind(visibleItem, 1, w.visible ? 0 : 1);
                bind(visibleItem, 2, now);
                bind(visibleItem, 3, w.collection);
                bind(visibleItem, 4, text(tx.scope));
                bind(visibleItem, 5, w.key);
                if (!visibleItem.exec())
                    return d->failed(visibleItem);
                written = visibleItem.numRowsAffected() == 1;
                w.ord = w.visibleOrd;
            } else if (w.visible) {
                bind(newItem, 0, w.collection);
                bind(newItem, 1, text(tx.scope));
                bind(newItem, 2, w.key);
                bind(newItem, 3, local);
                bind(newItem, 4, 0);
                bind(newItem, 5, now);
                if (!newItem.exec())
                    return d->failed(newItem);
                written = newItem.numRowsAffected() == 1;
                if (written)
                    w.ord = newItem.lastInsertId().toLongLong();
            }
            if (!written) {
                bind(item, 0, w.collection);
                bind(item, 1, text(tx.scope));
                bind(item, 2, w.key);
                bind(item, 3, local);
                bind(item, 4, w.visible ? 0 : 1);
                bind(item, 5, now);
                if (!item.exec() || !item.next())
                    return d->failed(item);
                w.ord = item.value(0).toLongLong();
                item.finish();
            }
            if (!w.visible) {
                bind(tombstone, 0, now);
                bind(tombstone, 1, w.collection);
                bind(tombstone, 2, text(tx.scope));
                bind(tombstone, 3, w.key);
                if (!tombstone.exec())
                    return d->failed(tombstone);
            }
        }

        // One mutation: held in the transaction's row (schema 6).
        const bool inRow = tx.mutations.size() == 1;
        QSqlQuery &txq = inRow
                ? d->statement(
                        "INSERT INTO transactions (id, scope, strategy, state, created_at,"
                        " updated_at, current_attempt, queued_behind, error_code, error_message,"
                        " error_detail, error_retryable, error_http, error_tx, m_id, m_collection,"
                        " m_key, m_type, m_base_version, m_original, m_modified, m_changes,"
                        " m_metadata, m_state, m_created_at, m_updated_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                        " CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT),"
                        " ?, ?, ?)")
                : d->statement(
                        "INSERT INTO transactions (id, scope, strategy, state, created_at,"
                        " updated_at, current_attempt, queued_behind, error_code, error_message,"
                        " error_detail, error_retryable, error_http, error_tx)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        bind(txq, 0, tx.id);
        bind(txq, 1, text(tx.scope));
        bind(txq, 2, int(tx.strategy));
        bind(txq, 3, int(tx.state));
        bind(txq, 4, toMs(tx.createdAt));
        bind(txq, 5, toMs(tx.updatedAt));
        bind(txq, 6, tx.currentAttempt);
        bind(txq, 7, tx.queuedBehind.isEmpty() ? QVariant() : QVariant(tx.queuedBehind));
        bindError(txq, 8, tx.error);
        auto modifiedTextOf = [&](qsizetype i) {
            return modifiedText.isEmpty() ? QVariant() : modifiedText.at(i);
        };
        if (inRow)
            bindMutation(txq, 14, tx.mutations.constFirst(), modifiedTextOf(0));
        if (!txq.exec())
            return d->failed(txq);
        if (inRow)
            return SyncError();

        QSqlQuery &mq = d->statement(
                "INSERT INTO mutations (tx_id, seq, scope, id, collection, key, type, base_version,"
                " original, modified, changes, metadata, state, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT),"
                " CAST(? AS TEXT), ?, ?, ?)");
        for (qsizetype i = 0; i < tx.mutations.size(); ++i) {
            const MutationRecord &m = tx.mutations.at(i);
            bind(mq, 0, tx.id);
            bind(mq, 1, m.sequence);
            bind(mq, 2, text(tx.scope));
            bindMutation(mq, 3, m, modifiedTextOf(i));
            if (!mq.exec())
                return d->failed(mq);
        }
        return SyncError();
    });
}

namespace {

SyncError readError(const QSqlQuery &q, int first)
{
    const auto code = SyncError::Code(q.value(first).toInt());
    if (code == SyncError::None)
        return SyncError();
    SyncError error(code, q.value(first + 1).toString(), q.value(first + 2).toString());
    error.setRetryable(q.value(first + 3).toBool());
    error.setHttpStatus(q.value(first + 4).toInt());
    error.setTransactionId(q.value(first + 5).toString());
    return error;
}

} // namespace

SyncError SyncDatabase::loadTransactions(const QString &scope, bool includeCompleted,
                                         QList<TransactionRecord> *out) const
{
    return d->loadTransactions(scope, includeCompleted, QString(), out);
}

SyncError SyncDatabase::loadTransaction(const QString &id, TransactionRecord *out,
                                        bool *found) const
{
    QList<TransactionRecord> records;
    const SyncError error = d->loadTransactions(QString(), true, id, &records);
    *found = !error.isError() && records.size() == 1;
    if (*found)
        *out = records.constFirst();
    return error;
}

namespace {

// The three statements loadTransactions() runs for one selection: the transactions, then
// their mutations, then their attempts. A scope's transactions are read as a range of the
// table's key from a first seq on (the active_from mark when completed ones are left out);
// one transaction by its id.
enum class Selection { Scope, Id };
enum class Part { Transactions, Mutations, Attempts };

const char *loadSql(Selection selection, Part part)
{
    static const auto texts = [] {
        const QByteArray filters[] = {
            " WHERE t.seq >= ? AND t.scope = ? AND (? = 1 OR t.state <> 4)",
            " WHERE t.id = ?",
        };
        std::array<std::array<QByteArray, 3>, 2> out;
        for (int s = 0; s < 2; ++s) {
            out[s][int(Part::Transactions)] =
                    "SELECT t.id, t.scope, t.strategy, t.state, t.created_at, t.updated_at,"
                    " t.current_attempt, t.queued_behind, t.error_code, t.error_message,"
                    " t.error_detail, t.error_retryable, t.error_http, t.error_tx, t.merged_into,"
                    " t.m_id, t.m_collection, t.m_key, t.m_type, t.m_base_version, t.m_original,"
                    " t.m_modified, t.m_changes, t.m_metadata, t.m_state, t.m_created_at,"
                    " t.m_updated_at FROM transactions t"
                    + filters[s] + " ORDER BY t.seq";
            out[s][int(Part::Mutations)] =
                    "SELECT m.tx_id, m.seq, m.id, m.collection, m.key, m.type, m.base_version,"
                    " m.original, m.modified, m.changes, m.metadata, m.state, m.created_at,"
                    " m.updated_at FROM transactions t JOIN mutations m ON m.tx_id = t.id"
                    + filters[s] + " ORDER BY t.seq, m.seq";
            out[s][int(Part::Attempts)] =
                    "SELECT a.id, a.tx_id, a.started_at, a.completed_at, a.error_code,"
                    " a.error_message, a.error_detail, a.retry_at FROM transactions t"
                    " JOIN attempts a ON a.tx_id = t.id"
                    + filters[s] + " ORDER BY t.seq, a.started_at";
        }
        return out;
    }();
    return texts[int(selection)][int(part)].constData();
}

} // namespace

qint64 SyncDatabasePrivate::activeFrom(SyncError *error) const
{
    QSqlQuery &q = statement(
            "SELECT CAST(value AS INTEGER) FROM meta WHERE name = 'active_from'");
    if (!q.exec()) {
        *error = failed(q);
        return 0;
    }
    const qint64 from = q.next() ? q.value(0).toLongLong() : 0;
    q.finish();
    return from;
}

// After deletes: the next new transaction gets MAX(seq) + 1, which may now be below the mark.
SyncError SyncDatabasePrivate::keepActiveFromBelowNextSeq() const
{
    QSqlQuery &q = statement(
            "UPDATE meta SET value = MIN(CAST(value AS INTEGER),"
            " (SELECT COALESCE(MAX(seq), 0) + 1 FROM transactions)) WHERE name = 'active_from'");
    if (!q.exec())
        return failed(q);
    return SyncError();
}

// Either the scope's transactions (id empty), or the one transaction with id.
SyncError SyncDatabasePrivate::loadTransactions(const QString &scope, bool includeCompleted,
                                                const QString &id,
                                                QList<TransactionRecord> *out) const
{
    out->clear();
    const Selection selection = id.isEmpty() ? Selection::Scope : Selection::Id;
    qint64 from = 0;
    if (selection == Selection::Scope && !includeCompleted) {
        SyncError error;
        from = activeFrom(&error);
        if (error.isError())
            return error;
    }
    auto prepared = [&](Part part) -> QSqlQuery & {
        QSqlQuery &q = statement(loadSql(selection, part));
        if (selection == Selection::Id) {
            bind(q, 0, id);
        } else {
            bind(q, 0, from);
            bind(q, 1, text(scope));
            bind(q, 2, includeCompleted ? 1 : 0);
        }
        return q;
    };
    QSqlQuery &tq = prepared(Part::Transactions);
    if (!tq.exec())
        return failed(tq);
    QHash<QString, qsizetype> index;
    while (tq.next()) {
        TransactionRecord tx;
        tx.id = tq.value(0).toString();
        tx.scope = tq.value(1).toString();
        tx.strategy = StrategyKind(tq.value(2).toInt());
        tx.state = TransactionState(tq.value(3).toInt());
        tx.createdAt = fromMs(tq.value(4));
        tx.updatedAt = fromMs(tq.value(5));
        tx.currentAttempt = tq.value(6).toInt();
        tx.queuedBehind = tq.value(7).toString();
        tx.error = readError(tq, 8);
        tx.mergedInto = tq.value(14).toString();
        if (!tq.isNull(15))
            tx.mutations.append(readMutation(tq, 15, tx.id, 0));
        index.insert(tx.id, out->size());
        out->append(std::move(tx));
    }
    tq.finish();
    if (out->isEmpty())
        return SyncError();

    QSqlQuery &mq = prepared(Part::Mutations);
    if (!mq.exec())
        return failed(mq);
    while (mq.next()) {
        const qsizetype i = index.value(mq.value(0).toString(), -1);
        if (i >= 0)
            (*out)[i].mutations.append(readMutation(mq, 2, mq.value(0).toString(), mq.value(1).toInt()));
    }
    mq.finish();

    QSqlQuery &aq = prepared(Part::Attempts);
    if (!aq.exec())
        return failed(aq);
    while (aq.next()) {
        AttemptRecord a;
        a.id = aq.value(0).toString();
        a.startedAt = fromMs(aq.value(2));
        a.completedAt = fromMs(aq.value(3));
        const auto code = SyncError::Code(aq.value(4).toInt());
        if (code != SyncError::None)
            a.error = SyncError(code, aq.value(5).toString(), aq.value(6).toString());
        a.retryScheduledFor = fromMs(aq.value(7));
        const qsizetype i = index.value(aq.value(1).toString(), -1);
        if (i >= 0)
            (*out)[i].attempts.append(std::move(a));
    }
    aq.finish();
    return SyncError();
}

SyncError SyncDatabase::loadSynced(const QString &collection, const QString &scope,
                                   const QStringList &keys, QHash<QString, SyncedState> *out) const
{
    out->clear();
    if (keys.isEmpty())
        return SyncError();
    // Any number of keys in one statement: they arrive as one bound JSON array.
    QSqlQuery &q = d->statement(
            "SELECT key, version, CASE WHEN deleted = 0 THEN data END FROM items"
            " WHERE collection = ? AND scope = ? AND key IN (SELECT value FROM json_each(?))");
    QJsonArray array;
    for (const QString &key : keys)
        array.append(key);
    bind(q, 0, collection);
    bind(q, 1, text(scope));
    bind(q, 2, QString::fromUtf8(QJsonDocument(array).toJson(QJsonDocument::Compact)));
    if (!q.exec())
        return d->failed(q);
    while (q.next()) {
        SyncedState state;
        state.version = q.value(1).toLongLong();
        if (!q.value(2).isNull())
            state.data = decode(q.value(2));
        out->insert(q.value(0).toString(), state);
    }
    q.finish();
    return SyncError();
}

SyncError SyncDatabase::clearScope(const QString &scope)
{
    // Mutations and attempts go with their transactions (ON DELETE CASCADE).
    return d->transact([&]() -> SyncError {
        for (const char *sql : { "DELETE FROM items WHERE scope = ?",
                                 "DELETE FROM transactions WHERE scope = ?",
                                 "DELETE FROM cursors WHERE scope = ?",
                                 "DELETE FROM id_map WHERE scope = ?",
                                 "DELETE FROM tombstones WHERE scope = ?" }) {
            QSqlQuery &q = d->statement(sql);
            bind(q, 0, text(scope));
            if (!q.exec())
                return d->failed(q);
        }
        return d->keepActiveFromBelowNextSeq();
    });
}

SyncError SyncDatabase::clientId(QString *out)
{
    QSqlQuery &get = d->statement("SELECT value FROM meta WHERE name = 'client_id'");
    if (!get.exec())
        return d->failed(get);
    if (get.next()) {
        *out = get.value(0).toString();
        get.finish();
        return SyncError();
    }
    get.finish();
    const QString id = QUuid::createUuid().toString(QUuid::WithoutBraces);
    QSqlQuery &put = d->statement("INSERT OR IGNORE INTO meta (name, value) VALUES ('client_id', ?)");
    bind(put, 0, id);
    if (!put.exec())
        return d->failed(put);
    return clientId(out);
}

SyncError SyncDatabase::cursor(const QString &collection, const QString &scope, Cursor *out) const
{
    QSqlQuery &q = d->statement(
            "SELECT cursor, max_version FROM cursors WHERE collection = ? AND scope = ?");
    bind(q, 0, collection);
    bind(q, 1, text(scope));
    if (!q.exec())
        return d->failed(q);
    *out = Cursor();
    if (q.next()) {
        out->cursor = q.value(0).toString();
        out->maxVersion = q.value(1).toLongLong();
    }
    q.finish();
    return SyncError();
}

SyncError SyncDatabase::writeCompaction(const Compaction::Plan &plan)
{
    return d->transact([&]() -> SyncError {
        QSqlQuery &m = d->statement(
                "UPDATE mutations SET type = ?, original = CAST(? AS TEXT),"
                " modified = CAST(? AS TEXT), changes = CAST(? AS TEXT),"
                " base_version = ?, updated_at = ? WHERE tx_id = ? AND seq = ?");
        QSqlQuery &inRow = d->statement(
                "UPDATE transactions SET m_type = ?, m_original = CAST(? AS TEXT),"
                " m_modified = CAST(? AS TEXT), m_changes = CAST(? AS TEXT),"
                " m_base_version = ?, m_updated_at = ? WHERE id = ? AND m_id IS NOT NULL AND ? = 0");
        QSqlQuery &t = d->statement("UPDATE transactions SET merged_into = ? WHERE id = ?");
        for (const Compaction::Merge &merge : plan.merges) {
            const MutationRecord &r = merge.mutation;
            // Wherever the mutation is held: one of the two updates finds it.
            for (QSqlQuery *q : { &m, &inRow }) {
                bind(*q, 0, int(r.type));
                bind(*q, 1, jsonOrNull(r.original, r.type != MutationType::Insert));
                bind(*q, 2, jsonOrNull(r.modified, r.type != MutationType::Remove));
                bind(*q, 3, jsonOrNull(r.changes, r.type == MutationType::Update));
                bind(*q, 4, r.baseVersion);
                bind(*q, 5, toMs(r.updatedAt));
                bind(*q, 6, r.transactionId);
                bind(*q, 7, r.sequence);
                if (!q->exec())
                    return d->failed(*q);
            }
            for (const QString &absorbed : merge.absorbed) {
                bind(t, 0, merge.survivor);
                bind(t, 1, absorbed);
                if (!t.exec())
                    return d->failed(t);
            }
        }
        return SyncError();
    });
}

SyncError SyncDatabase::resetCursor(const QString &collection, const QString &scope)
{
    QSqlQuery &q = d->statement("DELETE FROM cursors WHERE collection = ? AND scope = ?");
    bind(q, 0, collection);
    bind(q, 1, text(scope));
    if (!q.exec())
        return d->failed(q);
    return SyncError();
}

SyncError SyncDatabase::syncedKeys(const QString &collection, const QString &scope,
                                   QStringList *out) const
{
    QSqlQuery &q = d->statement(
            "SELECT key FROM items WHERE collection = ? AND scope = ? AND deleted = 0"
            " AND data IS NOT NULL");
    bind(q, 0, collection);
    bind(q, 1, text(scope));
    if (!q.exec())
        return d->failed(q);
    out->clear();
    while (q.next())
        out->append(q.value(0).toString());
    q.finish();
    return SyncError();
}

SyncError SyncDatabase::deleteTransactions(const QStringList &ids)
{
    return d->transact([&]() -> SyncError {
        QSqlQuery &q = d->statement("DELETE FROM transactions WHERE id = ?");
        for (const QString &id : ids) {
            bind(q, 0, id);
            if (!q.exec())
                return d->failed(q);
        }
        return d->keepActiveFromBelowNextSeq();
    });
}

SyncError SyncDatabase::writeSynced(const QString &scope, const QList<TransactionWrite> &transactions,
                                    QList<SyncedWrite> *items, const CursorWrite *cursorWrite)
{
    return d->transact([&]() -> SyncError {
        const qint64 now = QDateTime::currentMSecsSinceEpoch();

        QSqlQuery &tx = d->statement(
                "UPDATE transactions SET state = ?, updated_at = ?, current_attempt = ?,"
                " queued_behind = ?, error_code = ?, error_message = ?, error_detail = ?,"
                " error_retryable = ?, error_http = ?, error_tx = ?,"
                // The mutation held in the row: that of a record of one mutation (NULL otherwise)
                " m_state = ?, m_updated_at = ?, m_base_version = ? WHERE id = ?");
        // The mutations of a record of several.
        QSqlQuery &mutation = d->statement(
                "UPDATE mutations SET state = ?, updated_at = ?, base_version = ?"
                " WHERE tx_id = ? AND seq = ?");
        QSqlQuery &attempt = d->statement(
                "INSERT INTO attempts (id, tx_id, started_at, completed_at, error_code, error_message,"
                " error_detail, retry_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (tx_id, id) DO UPDATE SET completed_at = excluded.completed_at,"
                " error_code = excluded.error_code, error_message = excluded.error_message,"
                " error_detail = excluded.error_detail, retry_at = excluded.retry_at");
        QSqlQuery &dropAttempt = d->statement("DELETE FROM attempts WHERE tx_id = ? AND id = ?");
        // The highest seq: the next insert (MAX(seq) + 1) still lands after it.
        QSqlQuery &toEnd = d->statement(
                "UPDATE transactions SET seq = (SELECT MAX(seq) + 1 FROM transactions) WHERE id = ?");
        bool completedAny = false;
        for (const TransactionWrite &w : transactions) {
            const TransactionRecord &r = w.record;
            completedAny = completedAny || r.state == TransactionState::Completed;
            bind(tx, 0, int(r.state));
            bind(tx, 1, toMs(r.updatedAt));
            bind(tx, 2, r.currentAttempt);
            bind(tx, 3, r.queuedBehind.isEmpty() ? QVariant() : QVariant(r.queuedBehind));
            bindError(tx, 4, r.error);
            const MutationRecord *only = r.mutations.size() == 1 ? &r.mutations.constFirst() : nullptr;
            bind(tx, 10, only ? QVariant(int(only->state)) : QVariant());
            bind(tx, 11, only ? QVariant(toMs(only->updatedAt)) : QVariant());
            bind(tx, 12, only ? QVariant(only->baseVersion) : QVariant());
            bind(tx, 13, r.id);
            if (!tx.exec())
                return d->failed(tx);
            for (const MutationRecord &m : r.mutations) {
                if (only)
                    break; // settled with its transaction's row
                bind(mutation, 0, int(m.state));
                bind(mutation, 1, toMs(m.updatedAt));
                bind(mutation, 2, m.baseVersion);
                bind(mutation, 3, r.id);
                bind(mutation, 4, m.sequence);
                if (!mutation.exec())
                    return d->failed(mutation);
            }
            if (w.moveToEnd) {
                bind(toEnd, 0, r.id);
                if (!toEnd.exec())
                    return d->failed(toEnd);
            }
            if (!w.droppedAttempt.isEmpty()) {
                bind(dropAttempt, 0, r.id);
                bind(dropAttempt, 1, w.droppedAttempt);
                if (!dropAttempt.exec())
                    return d->failed(dropAttempt);
            }
            if (!r.attempts.isEmpty()) {
                const AttemptRecord &a = r.attempts.constLast();
                bind(attempt, 0, a.id);
                bind(attempt, 1, r.id);
                bind(attempt, 2, toMs(a.startedAt));
                bind(attempt, 3, a.completedAt.isValid() ? QVariant(toMs(a.completedAt)) : QVariant());
                bind(attempt, 4, int(a.error.code()));
                bind(attempt, 5, a.error.message());
                bind(attempt, 6, a.error.detail());
                bind(attempt, 7, a.retryScheduledFor.isValid() ? QVariant(toMs(a.retryScheduledFor)) : QVariant());
                if (!attempt.exec())
                    return d->failed(attempt);
            }
        }

        if (completedAny) {
            // The active_from mark moves past the transactions completed from it on (it stays
            // on the first one that is not, or goes past the last).
            QSqlQuery &advance = d->statement(
                    "UPDATE meta SET value = COALESCE((SELECT seq FROM transactions"
                    " WHERE seq >= CAST(meta.value AS INTEGER) AND state <> 4 ORDER BY seq LIMIT 1),"
                    " (SELECT COALESCE(MAX(seq), 0) + 1 FROM transactions))"
                    " WHERE name = 'active_from'");
            if (!advance.exec())
                return d->failed(advance);
        }

        // Synced state, and the local overlay where the caller knows it (local set): a pulled
        // row without local changes keeps local_data NULL; local_deleted is only ever changed by
        // the caller, so a pulled upsert never resurrects a row removed locally.
        QSqlQuery &item = d->statement(
                "INSERT INTO items (collection, scope, key, version, data, local_data,"
                " local_deleted, deleted, updated_at)"
                " VALUES (?, ?, ?, ?, CAST(? AS TEXT), CAST(? AS TEXT), ?, ?, ?)"
                " ON CONFLICT (collection, scope, key) DO UPDATE SET"
                " ord = CASE WHEN (items.local_deleted = 1 OR items.deleted = 1"
                "   OR COALESCE(items.local_data, items.data) IS NULL)"
                "   AND NOT (CASE WHEN ? THEN excluded.local_deleted ELSE items.local_deleted END = 1"
                "   OR excluded.deleted = 1 OR COALESCE(CASE WHEN ? THEN excluded.local_data"
                "   ELSE items.local_data END, excluded.data) IS NULL)"
                "   THEN (SELECT MAX(ord) + 1 FROM items) ELSE items.ord END,"
                " version = excluded.version, data = excluded.data, deleted = excluded.deleted,"
                " local_data = CASE WHEN ? THEN excluded.local_data ELSE items.local_data END,"
                " local_deleted = CASE WHEN ? THEN excluded.local_deleted ELSE items.local_deleted END,"
                " updated_at = excluded.updated_at"
                " RETURNING ord, local_deleted = 0 AND deleted = 0"
                " AND COALESCE(local_data, data) IS NOT NULL");
        QSqlQuery &tombstone = d->statement(
                "INSERT INTO tombstones (collection, scope, key, version, deleted_at, confirmed)"
                " VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT (collection, scope, key) DO UPDATE SET"
                " version = excluded.version, deleted_at = excluded.deleted_at, confirmed = 1");
        for (SyncedWrite &w : *items) {
            bind(item, 0, w.collection);
            bind(item, 1, text(scope));
            bind(item, 2, w.key);
            bind(item, 3, w.version);
            bind(item, 4, jsonOrNull(w.synced.value_or(QJsonObject()), w.synced.has_value()));
            bind(item, 5, w.local ? jsonOrNull(w.local->value_or(QJsonObject()), w.local->has_value()) : QVariant());
            bind(item, 6, w.localDeleted ? 1 : 0);
            bind(item, 7, w.synced ? 0 : 1);
            bind(item, 8, now);
            bind(item, 9, w.setLocal ? 1 : 0);
            bind(item, 10, w.setLocal ? 1 : 0);
            bind(item, 11, w.setLocal ? 1 : 0);
            bind(item, 12, w.setLocal ? 1 : 0);
            if (!item.exec() || !item.next())
                return d->failed(item);
            w.ord = item.value(0).toLongLong();
            w.visibleInStore = item.value(1).toBool();
            item.finish();
            if (!w.synced) {
                bind(tombstone, 0, w.collection);
                bind(tombstone, 1, text(scope));
                bind(tombstone, 2, w.key);
                bind(tombstone, 3, w.version);
                bind(tombstone, 4, now);
                if (!tombstone.exec())
                    return d->failed(tombstone);
            }
        }

        if (cursorWrite) {
            QSqlQuery &c = d->statement(
                    "INSERT INTO cursors (collection, scope, cursor, updated_at, max_version)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (collection, scope) DO UPDATE SET"
                    " cursor = excluded.cursor, updated_at = excluded.updated_at,"
                    " max_version = MAX(cursors.max_version, excluded.max_version)");
            bind(c, 0, cursorWrite->collection);
            bind(c, 1, text(scope));
            bind(c, 2, cursorWrite->cursor);
            bind(c, 3, now);
            bind(c, 4, cursorWrite->maxVersion);
            if (!c.exec())
                return d->failed(c);
        }
        return SyncError();
    });
}

SyncError SyncDatabase::integrityCheck(QString *result) const
{
    QSqlQuery q(d->database());
    if (!q.exec(QStringLiteral("PRAGMA integrity_check")))
        return d->failed(q);
    QStringList lines;
    while (q.next())
        lines.append(q.value(0).toString());
    *result = lines.join(QLatin1Char('\n'));
    return SyncError();
}

} // namespace Synq
