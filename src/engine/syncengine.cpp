// SPDX-License-Identifier: BSD-3-Clause
// SyncEngine's public API. The work is done by the parts SyncEnginePrivate holds (see
// syncengine_p.h); opening.cpp opens the database and loads scopes.

#include "syncengine_p.h"

#include "pullapplier_p.h"
#include "syncstatus_p.h"
#include "transaction_p.h"

#include <synq/identifier.h>
#include <synq/json.h>
#include <synq/keygenerator.h>
#include <synq/lifecycle.h>

#include <QtCore/QDir>
#include <QtCore/QStandardPaths>

namespace Synq {

/*!
    \class Synq::SyncEngine
    \inmodule Synq
    \brief The coordinator of one local database: collections, the outbox and sync runs.

    A SyncEngine owns one SQLite file. Every SyncCollection attached to it shows that file's
    rows, and every change made through a collection is written to the file, together with its
    outbox entry, before the call returns.

    The engine opens its database when open() is called, when the first change is made, or at
    the first turn of the event loop after it was created — whichever comes first. Set
    databasePath and durability before that. Collections attached to an open engine load at
    once; collections attached earlier fill when it opens.

    \code
    Synq::SyncEngine engine;
    engine.setDatabasePath(dir.filePath("app.sqlite"));
    if (!engine.open())
        qWarning() << engine.status()->lastError().message();
    \endcode

    With a transport (for synq-server and the Synq protocol: HttpTransport) the engine syncs:
    each run pushes the outbox, oldest first, and then pulls every collection it has models for
    (docs/sync.md). With autoSync on (the default) runs start when the transport is set, when
    the database opens, shortly after local changes, every syncInterval, and after failures
    with exponential backoff; syncNow() starts one at once. syncStarted() and
    syncFinished(report) frame each run.

    Failures are reported as SyncError values through errorOccurred(); the most recent is also
    in status()->lastError.
*/

/*!
    \qmltype SyncEngine
    \inqmlmodule Synq
    \brief The coordinator of one local database shared by SyncCollection models.

    \qml
    SyncEngine {
        id: engine
        databasePath: "todo.sqlite"
        onErrorOccurred: (error) => console.warn(error.message)
    }
    \endqml
*/

/*!
    \property Synq::SyncEngine::durability
    \brief How hard each local commit is pushed to disk.

    \c Full (the default) runs SQLite with \c{synchronous=FULL}: when a mutation returns, the
    change survives a power cut. \c Normal (\c{synchronous=NORMAL} in WAL mode) survives a crash
    of the application but may lose the last commits on a power cut or OS crash, in exchange for
    cheaper commits.
*/

SyncEngine::SyncEngine(QObject *parent) : QObject(parent), d(new SyncEnginePrivate(this))
{
    qRegisterMetaType<Synq::Protocol::PullResponse>();
    qRegisterMetaType<QList<Synq::SyncDatabase::SyncedWrite>>();
    d->status = SyncStatusPrivate::create(this);
    d->retryPolicy = new RetryPolicy(this);
    // C++: the database opens at open(), at first use, or at the first event-loop turn.
    QMetaObject::invokeMethod(
            this,
            [this] {
                if (d->autoOpen && !d->inSetup && !d->db)
                    d->ensureOpen();
            },
            Qt::QueuedConnection);
}

SyncEngine::~SyncEngine()
{
    d->closeDatabase();
}

/*!
    For a subclass that is set up in steps, as the QML type SyncEngine is (its properties are
    set one by one while its component is created): the engine does not open at the first
    event-loop turn, only at completeSetup() (or when a change or open() needs it earlier).
*/
void SyncEngine::beginSetup()
{
    d->inSetup = true;
}

/*!
    Ends a setup begun with beginSetup(): the engine opens now, unless close() was called, so
    that code running right after the setup (QML's \c Component.onCompleted) sees the stored
    rows.
*/
void SyncEngine::completeSetup()
{
    d->inSetup = false;
    if (d->autoOpen && !d->db)
        d->ensureOpen();
}

QString SyncEngine::defaultDatabasePath()
{
    const QString dir = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
    return dir.isEmpty() ? QString() : QDir(dir).filePath(QStringLiteral("synq.sqlite"));
}

QString SyncEngine::databasePath() const
{
    return d->pathSet ? d->path : defaultDatabasePath();
}

void SyncEngine::setDatabasePath(const QString &path)
{
    if (d->pathSet && d->path == path)
        return;
    const bool wasOpen = d->db != nullptr;
    d->path = path;
    d->pathSet = true;
    if (wasOpen) {
        d->closeDatabase();
        d->ensureOpen();
    }
    Q_EMIT databasePathChanged();
}

SyncEngine::Durability SyncEngine::durability() const
{
    return d->durability;
}

void SyncEngine::setDurability(Durability durability)
{
    if (d->durability == durability)
        return;
    d->durability = durability;
    if (d->db) {
        const SyncError error = d->db->setSynchronous(durability == Full
                                                              ? SyncDatabase::Synchronous::Full
                                                              : SyncDatabase::Synchronous::Normal);
        if (error.isError())
            d->report(error);
    }
    Q_EMIT durabilityChanged();
}

QVariantMap SyncEngine::scope() const
{
    return d->scope;
}

void SyncEngine::setScope(const QVariantMap &scope)
{
    if (d->scope == scope)
        return;
    QJsonObject json;
    QString bad;
    if (!Json::fromVariantMap(scope, &json, &bad)) {
        d->report(SyncError(SyncError::Validation,
                            tr("The scope value %1 cannot be stored as JSON.").arg(bad)));
        return;
    }
    d->scope = scope;
    d->scopeId = scopeId(scope);
    if (d->db)
        d->loadScope();
    Q_EMIT scopeChanged();
}

SyncStatus *SyncEngine::status() const
{
    return d->status;
}

bool SyncEngine::isReady() const
{
    return d->db != nullptr;
}

SyncTransport *SyncEngine::transport() const
{
    return d->transport;
}

void SyncEngine::setTransport(SyncTransport *transport)
{
    if (d->transport == transport)
        return;
    if (d->transport)
        disconnect(d->transport, &SyncTransport::changesAvailable, this, nullptr);
    d->transport = transport;
    if (transport) {
        // A realtime hint: pull soon (a burst of hints makes one run).
        connect(transport, &SyncTransport::changesAvailable, this,
                [this] { d->scheduler.changesAvailable(); });
        d->scheduler.readyToSync();
    }
    Q_EMIT transportChanged();
}

bool SyncEngine::autoSync() const
{
    return d->autoSync;
}

void SyncEngine::setAutoSync(bool enabled)
{
    if (d->autoSync == enabled)
        return;
    d->autoSync = enabled;
    d->scheduler.readyToSync();
    Q_EMIT autoSyncChanged();
}

int SyncEngine::syncInterval() const
{
    return d->syncInterval;
}

/*!
    \property Synq::SyncEngine::syncInterval
    Milliseconds between periodic sync runs while autoSync is on; 0 (the default) runs only
    after local changes, at start, and when syncNow() is called.
*/
void SyncEngine::setSyncInterval(int ms)
{
    ms = qMax(0, ms);
    if (d->syncInterval == ms)
        return;
    d->syncInterval = ms;
    d->scheduler.intervalChanged();
    Q_EMIT syncIntervalChanged();
}

/*!
    \property Synq::SyncEngine::maxQueueSize
    \brief The most transactions that may wait in the outbox; 0 (the default) sets no limit.

    The overflow policy is \e reject: a change made while this many transactions are
    unfinished (Queued, Pending, Persisting or PersistedAwaitingSync) is refused with a
    SyncError::QueueFull error, and nothing of it is stored. Nothing already accepted is ever
    dropped to make room. Dead letters (Failed transactions) do not count.
*/
int SyncEngine::maxQueueSize() const
{
    return d->maxQueueSize;
}

void SyncEngine::setMaxQueueSize(int size)
{
    size = qMax(0, size);
    if (d->maxQueueSize == size)
        return;
    d->maxQueueSize = size;
    Q_EMIT maxQueueSizeChanged();
}

/*!
    \property Synq::SyncEngine::relations
    \brief The relation graph: which fields hold keys of items in other collections.

    Each entry is a map \c{{from: "todos.projectId", to: "projects", required: true}}: the
    field \c projectId of \c todos holds the key of a \c projects item. The engine uses the
    graph to remap a client key the server replaced everywhere it is referenced, to send a
    parent's insert before the changes that refer to it, to keep compaction from cancelling a
    parent's insert that a pending change still refers to, and, after each pulled page, to check
    that the rows it touched refer to items that exist (the integrity gate: a missing \e
    required target aborts the run with a SyncError::Integrity error and keeps the page's
    cursor; a missing optional one is reported in the run's \c orphans). A list that is not
    of this form is refused with a SyncError::Validation error and the graph stays as it was.
    See docs/keys-and-relations.md.
*/
QVariantList SyncEngine::relations() const
{
    return d->relationsValue;
}

void SyncEngine::setRelations(const QVariantList &relations)
{
    QString why;
    const QList<Remapping::Relation> parsed = Remapping::parseRelations(relations, &why);
    if (!why.isEmpty()) {
        d->report(SyncError(SyncError::Validation, tr("The relations were refused."), why));
        return;
    }
    if (parsed == d->relations)
        return;
    d->relations = parsed;
    d->relationsValue.clear();
    for (const Remapping::Relation &r : parsed)
        d->relationsValue.append(r.toVariantMap());
    Q_EMIT relationsChanged();
}

/*!
    \property Synq::SyncEngine::retryPolicy
    \brief How transactions whose persist failed are retried; see RetryPolicy.
*/
RetryPolicy *SyncEngine::retryPolicy() const
{
    return d->retryPolicy;
}

void SyncEngine::setPersistHandler(const QString &collection, PersistHandler handler)
{
    d->configs[collection].persist = std::move(handler);
}

/*!
    Sets how \a collection puts pending changes back on top of a newly synced state: whenever
    a pull (or a persisted, failed or rolled-back transaction) gives an item with pending
    changes a new synced state, \a merge computes what the row shows from that state and the
    pending mutations, oldest first. Return nullopt to hide the row. Without a merge function
    each pending mutation's changes are applied in order (a remove hides the row). The stored
    overlay follows what the function returns; the pending mutations are sent unchanged.
*/
void SyncEngine::setMergeFunction(const QString &collection, MergeFunction merge)
{
    d->configs[collection].merge = std::move(merge);
}

void SyncEngine::setAwaitSync(const QString &collection, bool await)
{
    d->configs[collection].awaitSync = await;
}

bool SyncEngine::awaitSync(const QString &collection) const
{
    return d->config(collection).awaitSync;
}

void SyncEngine::syncNow()
{
    d->run.start(true);
}

/*!
    Removes every row, outbox transaction, cursor, id mapping and tombstone of the current
    scope in one SQL transaction, and empties the collections (a model reset). An answer to a
    request made before arrives for a scope that is gone and is dropped. Returns false, with
    errorOccurred(), if the database could not be written; nothing is removed then.
*/
bool SyncEngine::clearScope()
{
    if (!d->ensureOpen())
        return false;
    const SyncError error = d->db->clearScope(d->scopeId);
    if (error.isError()) {
        d->report(error);
        return false;
    }
    d->loadScope();
    return true;
}

/*!
    Opens the database now, if it is not open yet. Returns false, and reports the error through
    errorOccurred(), when the file cannot be opened: a path that cannot be written, a file that
    is not a Synq database or is damaged, or one written by a newer Synq.
*/
bool SyncEngine::open()
{
    return d->ensureOpen();
}

/*!
    Closes the database. Collections empty; the next change or open() opens it again.
*/
void SyncEngine::close()
{
    d->autoOpen = false; // closed on purpose: the first-turn open must not undo it
    d->closeDatabase();
}

/*!
    Returns the transaction with \a id, loading it from the outbox if needed; nullptr if the
    current scope has no such transaction.
*/
Transaction *SyncEngine::transaction(const QString &id)
{
    if (Transaction *t = d->outbox.handle(id))
        return t;
    if (Transaction *t = d->looked.value(id))
        return t;
    if (!d->ensureOpen())
        return nullptr;
    TransactionRecord record;
    bool found = false;
    const SyncError error = d->db->loadTransaction(id, &record, &found);
    if (error.isError()) {
        d->report(error);
        return nullptr;
    }
    if (!found || record.scope != d->scopeId)
        return nullptr;
    Transaction *t = TransactionPrivate::create(record, this);
    d->looked.insert(id, t);
    return t;
}

// The handles of the outbox's transactions in commit order, those `keep` accepts.
template<typename Keep>
static QList<Transaction *> handles(const Outbox &outbox, Keep keep)
{
    QList<Transaction *> out;
    for (const QString &id : outbox.inCommitOrder()) {
        Transaction *t = outbox.handle(id);
        if (t && keep(t))
            out.append(t);
    }
    return out;
}

QList<Transaction *> SyncEngine::transactions() const
{
    return handles(d->outbox, [](Transaction *t) { return t->state() != Transaction::Completed; });
}

QList<Transaction *> SyncEngine::transactionHistory() const
{
    return handles(d->outbox, [](Transaction *) { return true; });
}

QList<Transaction *> SyncEngine::deadLetters() const
{
    return handles(d->outbox, [](Transaction *t) { return t->state() == Transaction::Failed; });
}

/*!
    Starts an explicit transaction: stage changes with Transaction::insert(), update() and
    remove() — in any collections of this engine — then commit() them as one unit, or
    rollback(). The staged changes show in the models, are stored and go to the server together
    when commit() returns true: all of them, or none.

    \code
    Synq::Transaction *t = engine.begin();
    const QString project = t->insert(QStringLiteral("projects"), QVariantMap{{"name", "Home"}});
    t->insert(QStringLiteral("todos"), QVariantMap{{"title", "Paint"}, {"projectId", project}});
    if (!t->commit())
        qWarning() << t->error().message();
    \endcode
*/
Transaction *SyncEngine::begin()
{
    TransactionRecord record;
    record.id = KeyGenerator::global().next();
    record.scope = d->scopeId;
    record.state = TransactionState::Pending;
    record.createdAt = QDateTime::currentDateTimeUtc();
    record.updatedAt = record.createdAt;
    return TransactionPrivate::createOpen(record, this);
}

/*!
    Sends the failed transaction \a transactionId (a dead letter) again, with a fresh set of
    retries: its changes show again on top of the current synced state, and it is Pending (or
    Queued behind a transaction that holds one of its items). Its base versions move to the
    versions the replica has now, so a transaction that failed on a conflict overwrites the
    server's change this time. Returns false if there is no such failed transaction.
*/
bool SyncEngine::retry(const QString &transactionId)
{
    const TransactionRecord *failed = d->outbox.record(transactionId);
    if (!failed || failed->state != TransactionState::Failed || !d->db)
        return false;
    TransactionRecord record = *failed;
    const QDateTime now = QDateTime::currentDateTimeUtc();
    if (!Lifecycle::retry(record, now))
        return false;
    // Rebase on what the replica knows now.
    QHash<QString, QStringList> keysByCollection;
    for (const MutationRecord &m : std::as_const(record.mutations))
        keysByCollection[m.collection].append(m.key);
    for (auto it = keysByCollection.cbegin(); it != keysByCollection.cend(); ++it) {
        QHash<QString, SyncDatabase::SyncedState> states;
        const SyncError error = d->db->loadSynced(it.key(), d->scopeId, it.value(), &states);
        if (error.isError()) {
            d->report(error);
            return false;
        }
        for (MutationRecord &m : record.mutations) {
            if (m.collection != it.key())
                continue;
            const Outbox::Pending *pending = d->outbox.pendingOn(itemId(m.collection, m.key));
            m.baseVersion = qMax(states.value(m.key).version,
                                 pending ? pending->baseVersion() : qint64(0));
        }
    }
    // It goes again after everything committed so far: last in the outbox order.
    d->outbox.moveToEnd(transactionId);
    const QString blocker =
            Ordering::blockerFor(Ordering::Entry::of(record), d->outbox.holders(record));
    if (!blocker.isEmpty())
        Lifecycle::queue(record, blocker, now);
    SyncDatabase::TransactionWrite write { record, {} };
    write.moveToEnd = true;
    if (!d->settlement.apply(QList<SyncDatabase::TransactionWrite> { write }))
        return false;
    d->scheduler.readyToSync();
    return true;
}

/*!
    Gives up the failed transaction \a transactionId (a dead letter) for good: it is removed
    from the outbox and from transactionHistory(), and transactionRemoved() is emitted. Its
    changes were rolled back when it failed. Returns false if there is no such failed
    transaction.
*/
bool SyncEngine::discard(const QString &transactionId)
{
    const TransactionRecord *failed = d->outbox.record(transactionId);
    if (!failed || failed->state != TransactionState::Failed || !d->db)
        return false;
    QStringList ids { transactionId };
    ids.append(d->outbox.absorbedInto(transactionId));
    const SyncError error = d->db->deleteTransactions(ids);
    if (error.isError()) {
        d->report(error);
        return false;
    }
    QList<MutationRecord> touched;
    for (const QString &id : std::as_const(ids)) {
        Transaction *gone = d->outbox.handle(id);
        if (!gone)
            continue;
        const TransactionRecord record = *d->outbox.record(id);
        touched.append(record.mutations);
        d->outbox.remove(id);
        d->emitEvent(QStringLiteral("discarded"), record);
        Q_EMIT transactionRemoved(id);
        gone->deleteLater();
    }
    d->settlement.refreshSyncStates(touched); // their rows are no longer Failed
    d->updateStatusCounts();
    return true;
}

QVariantList SyncEngine::conflicts() const
{
    QVariantList out;
    for (const ConflictRecord &c : std::as_const(d->conflicts))
        out.append(c.toVariantMap());
    return out;
}

bool SyncEngine::resolveConflictWithLocal(const QString &conflictId)
{
    return d->resolveConflictWithLocal(conflictId);
}

bool SyncEngine::resolveConflictWithServer(const QString &conflictId)
{
    return d->resolveConflict(conflictId, ConflictOutcome::AdoptServer, std::nullopt);
}

bool SyncEngine::resolveConflictWith(const QString &conflictId, const QVariant &merged)
{
    QJsonValue value;
    QString badPath;
    if (!Json::fromVariant(Json::unwrapped(merged), &value, &badPath) || !value.isObject()) {
        d->report(SyncError(SyncError::Validation,
                            tr("The merged record for conflict %1 is not a JSON object%2.")
                                    .arg(conflictId,
                                         badPath.isEmpty() ? QString()
                                                           : tr(" (at %1)").arg(badPath))));
        return false;
    }
    QJsonObject record = value.toObject();
    if (const ConflictRecord *c = d->conflict(conflictId)) {
        // The row keeps its key, whatever the merged record says.
        record.insert(d->config(c->collection).keyField, c->key);
    }
    return d->resolveConflict(conflictId, ConflictOutcome::RebaseAndRetry, record);
}

} // namespace Synq
