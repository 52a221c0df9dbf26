// SPDX-License-Identifier: BSD-3-Clause
#include "syncengine_p.h"

#include "pullapplier_p.h"

#include <synq/identifier.h>
#include <synq/json.h>
#include <synq/keygenerator.h>
#include <synq/lifecycle.h>
#include <synq/overlay.h>

#include <QtCore/QDir>
#include <QtCore/QLoggingCategory>
#include <QtCore/QSet>
#include <QtCore/QStandardPaths>

#include <limits>

Q_LOGGING_CATEGORY(lcEngine, "synq.engine", QtInfoMsg)

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

SyncEnginePrivate::SyncEnginePrivate(SyncEngine *q) : q(q) { }

SyncEngine::SyncEngine(QObject *parent) : QObject(parent), d(new SyncEnginePrivate(this))
{
    qRegisterMetaType<Synq::Protocol::PullResponse>();
    qRegisterMetaType<QList<Synq::SyncDatabase::SyncedWrite>>();
    d->status = new SyncStatus(this);
    d->retryPolicy = new RetryPolicy(this);
    QMetaObject::invokeMethod(
            this,
            [this] {
                if (d->autoOpen && !d->db)
                    d->ensureOpen();
            },
            Qt::QueuedConnection);
}

SyncEngine::~SyncEngine()
{
    d->closeDatabase();
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
        connect(transport, &SyncTransport::changesAvailable, this, [this] {
            if (d->autoSync)
                d->scheduleSync(SyncEnginePrivate::LocalChangeDebounceMs);
        });
    }
    if (transport && d->autoSync)
        d->scheduleSync(0);
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
    if (enabled)
        d->scheduleSync(0);
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
    if (ms > 0 && d->autoSync)
        d->scheduleSync(ms);
    Q_EMIT syncIntervalChanged();
}

/*!
    \property Synq::SyncEngine::maxQueueSize
    \brief The most transactions that may wait in the outbox; 0 (the default) sets no limit.

    The overflow policy is \e reject (P6): a change made while this many transactions are
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
    pending mutations, oldest first (T4). Return nullopt to hide the row. Without a merge
    function each pending mutation's changes are applied in order (a remove hides the row).
    The stored overlay follows what the function returns; the pending mutations are sent
    unchanged.
*/
void SyncEngine::setMergeFunction(const QString &collection, MergeFunction merge)
{
    d->configs[collection].merge = std::move(merge);
}

std::optional<QJsonObject> SyncEnginePrivate::merged(const QString &collection,
                                                    const std::optional<QJsonObject> &synced,
                                                    const QList<MutationRecord> &pending) const
{
    const auto c = configs.constFind(collection);
    if (c != configs.cend() && c->merge)
        return c->merge(synced, pending);
    return Overlay::visibleState(synced, pending);
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
    d->startRun(true);
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
    if (Transaction *t = d->transactions.value(id))
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
    auto *t = new Transaction(record, this);
    d->transactions.insert(id, t);
    return t;
}

QList<Transaction *> SyncEngine::transactions() const
{
    QList<Transaction *> out;
    for (const QString &id : d->transactionOrder) {
        Transaction *t = d->transactions.value(id);
        if (t && t->state() != Transaction::Completed)
            out.append(t);
    }
    return out;
}

QList<Transaction *> SyncEngine::transactionHistory() const
{
    QList<Transaction *> out;
    out.reserve(d->transactionOrder.size());
    for (const QString &id : d->transactionOrder) {
        if (Transaction *t = d->transactions.value(id))
            out.append(t);
    }
    return out;
}

QList<Transaction *> SyncEngine::deadLetters() const
{
    QList<Transaction *> out;
    for (const QString &id : d->transactionOrder) {
        Transaction *t = d->transactions.value(id);
        if (t && t->state() == Transaction::Failed)
            out.append(t);
    }
    return out;
}

/*!
    Starts an explicit transaction (T2): stage changes with Transaction::insert(), update() and
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
    auto *t = new Transaction(record, this);
    t->m_engine = this;
    t->m_open = true;
    return t;
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
    Transaction *t = d->transactions.value(transactionId);
    if (!t || t->state() != Transaction::Failed || !d->db)
        return false;
    TransactionRecord record = t->record();
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
            if (m.collection == it.key()) {
                const qint64 active = d->activity.value(SyncEnginePrivate::itemId(m.collection, m.key))
                                              .version();
                m.baseVersion = qMax(states.value(m.key).version, active);
            }
        }
    }
    // It goes again after everything committed so far: last in the outbox order.
    d->moveToEnd(transactionId);
    const QString blocker = Ordering::blockerFor(Ordering::Entry::of(record), d->holders(record));
    if (!blocker.isEmpty())
        Lifecycle::queue(record, blocker, now);
    SyncDatabase::TransactionWrite write { record, {} };
    write.moveToEnd = true;
    if (!d->settle({ write }))
        return false;
    if (d->autoSync)
        d->scheduleSync(0);
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
    Transaction *t = d->transactions.value(transactionId);
    if (!t || t->state() != Transaction::Failed || !d->db)
        return false;
    QStringList ids { transactionId };
    for (const QString &absorbed : d->absorbedBy.values(transactionId))
        ids.append(absorbed);
    const SyncError error = d->db->deleteTransactions(ids);
    if (error.isError()) {
        d->report(error);
        return false;
    }
    for (const QString &id : std::as_const(ids)) {
        Transaction *gone = d->transactions.take(id);
        if (!gone)
            continue;
        d->transactionOrder.removeOne(id);
        d->keysById.remove(id);
        d->absorbedBy.remove(id);
        if (gone->state() == Transaction::Failed)
            --d->failedCount;
        d->emitEvent(QStringLiteral("discarded"), gone->record());
        Q_EMIT transactionRemoved(id);
        gone->deleteLater();
    }
    d->updateStatusCounts();
    return true;
}

bool SyncEnginePrivate::ensureOpen()
{
    if (db)
        return true;
    const QString file = q->databasePath();
    if (file.isEmpty()) {
        report(SyncError(SyncError::Storage,
                         SyncEngine::tr("No database path is set and the system has no "
                                        "application data folder.")));
        return false;
    }
    auto database = std::make_unique<SyncDatabase>(file);
    SyncError error = database->open(durability == SyncEngine::Full
                                             ? SyncDatabase::Synchronous::Full
                                             : SyncDatabase::Synchronous::Normal);
    if (error.isError()) {
        database.reset();
        report(error);
        return false;
    }
    db = std::move(database);
    qCDebug(lcEngine) << "opened" << file;
    loadScope();
    Q_EMIT q->readyChanged();
    if (autoSync)
        scheduleSync(0);
    return true;
}

void SyncEnginePrivate::stopApplyThread()
{
    if (!applyThread)
        return;
    PullApplier *a = applier;
    QMetaObject::invokeMethod(
            a,
            [a] {
                a->release();
                delete a;
            },
            Qt::BlockingQueuedConnection);
    applier = nullptr;
    applyThread->quit();
    applyThread->wait();
    delete applyThread;
    applyThread = nullptr;
}

void SyncEnginePrivate::closeDatabase()
{
    if (!db)
        return;
    running = false;
    ++runSerial; // answers to requests of this run are dropped
    deliveryQueue.clear();
    stopApplyThread();
    for (CollectionStore *s : std::as_const(stores))
        s->clear();
    forgetTransactions();
    db.reset();
    updateStatusCounts();
    Q_EMIT q->transactionsReset();
    Q_EMIT q->readyChanged();
}

void SyncEnginePrivate::loadScope()
{
    // Whatever a run was doing belongs to the previous scope.
    running = false;
    ++runSerial;
    deliveryQueue.clear();
    forgetTransactions();

    QList<TransactionRecord> records;
    const SyncError error = db->loadTransactions(scopeId, false, &records);
    if (error.isError())
        report(error);
    for (const TransactionRecord &record : std::as_const(records))
        addTransaction(new Transaction(record, q));
    for (CollectionStore *s : std::as_const(stores))
        loadStore(s);
    updateStatusCounts();
    Q_EMIT q->transactionsReset();

    // Recovery (T6, S8). Nothing is in flight when a scope loads: an attempt cut short by a
    // crash or a close ends, and the transaction is pending again with the same mutation ids
    // (the server deduplicates whatever it did receive). One whose persist succeeded and that
    // was waiting for its change to come back is taken as done.
    const QDateTime now = QDateTime::currentDateTimeUtc();
    QList<TransactionWrite> recovered;
    for (const TransactionRecord &record : std::as_const(records)) {
        TransactionRecord r = record;
        if (Lifecycle::interrupted(r, now) || Lifecycle::synced(r, now)) {
            recovered.append({ r, {} });
        } else if (r.state == TransactionState::Queued) {
            // Waits only for an earlier transaction that is still unfinished.
            const QString behind = Ordering::blockerFor(Ordering::Entry::of(r), holders(r));
            if (behind != r.queuedBehind
                && (behind.isEmpty() ? Lifecycle::release(r, now) : Lifecycle::queue(r, behind, now)))
                recovered.append({ r, {} });
        }
    }
    if (!recovered.isEmpty())
        settle(recovered, {}, {});
}

void SyncEnginePrivate::forgetTransactions()
{
    for (Transaction *t : std::as_const(transactions))
        t->deleteLater();
    transactions.clear();
    transactionOrder.clear();
    orderOf.clear();
    nextOrder = 0;
    outboxOrder.clear();
    keysById.clear();
    waitingFor.clear();
    awaitedVersion.clear();
    activity.clear();
    activeByCollection.clear();
    absorbedBy.clear();
    activeCount = 0;
    failedCount = 0;
}

// keys: Ordering::Entry::keysOf(t's record), and mutationItems: the item id of each of its
// mutations, when the caller has them already.
void SyncEnginePrivate::addTransaction(Transaction *t, std::optional<QStringList> keys,
                                       const QStringList *mutationItems)
{
    const TransactionRecord &record = t->record();
    transactions.insert(record.id, t);
    orderOf.insert(record.id, nextOrder++);
    transactionOrder.append(record.id);
    keysById.insert(record.id, keys ? std::move(*keys) : Ordering::Entry::keysOf(record));
    if (isActive(record.state))
        outboxOrder.append(record.id);
    if (!record.mergedInto.isEmpty())
        absorbedBy.insert(record.mergedInto, record.id);
    if (!record.queuedBehind.isEmpty() && record.state == TransactionState::Queued)
        waitingFor.insert(record.queuedBehind, record.id);
    if (isActive(record.state)) {
        noteActive(record, mutationItems);
        ++activeCount;
    } else if (record.state == TransactionState::Failed) {
        ++failedCount;
    }
}

QList<Ordering::Entry> SyncEnginePrivate::holders(const TransactionRecord &t) const
{
    // Only earlier transactions can hold what t waits for (strict order, and no cycles);
    // absorbed ones travel inside their survivor, which stands for them.
    const qint64 position = orderOf.value(t.id, std::numeric_limits<qint64>::max());
    QList<QPair<qint64, QString>> ids;
    QSet<QString> seen { t.id };
    for (const MutationRecord &m : t.mutations) {
        const auto a = activity.constFind(itemId(m.collection, m.key));
        if (a == activity.cend())
            continue;
        for (const MutationRecord &p : a->pending) {
            if (seen.contains(p.transactionId))
                continue;
            seen.insert(p.transactionId);
            const qint64 order = orderOf.value(p.transactionId);
            const Transaction *h = transactions.value(p.transactionId);
            if (h && order < position && h->record().mergedInto.isEmpty())
                ids.append({ order, p.transactionId });
        }
    }
    std::sort(ids.begin(), ids.end());
    QList<Ordering::Entry> out;
    out.reserve(ids.size());
    for (const auto &[order, id] : std::as_const(ids))
        out.append(Ordering::Entry::of(transactions.value(id)->record()));
    return out;
}

void SyncEnginePrivate::moveToEnd(const QString &id)
{
    transactionOrder.removeOne(id);
    orderOf.insert(id, nextOrder++);
    transactionOrder.append(id);
    outboxOrder.removeOne(id);
    outboxOrder.append(id);
}

// Stored rows as the store holds them. Rows with active transactions show their synced state
// with those folded over it: the stored overlay may predate a pulled change that landed just
// before a crash.
bool SyncEnginePrivate::loadRows(CollectionStore *s, qint64 after, qint64 upTo, int limit,
                                 QList<StoreRow> *rows)
{
    QList<SyncDatabase::StoredItem> items;
    const SyncError error = db->loadItems(s->name(), scopeId, &items, after, upTo, limit);
    if (error.isError()) {
        report(error);
        return false;
    }
    rows->reserve(rows->size() + items.size());
    for (SyncDatabase::StoredItem &item : items) {
        StoreRow row;
        row.ord = item.ord;
        row.key = std::move(item.key);
        row.version = item.version;
        row.optimistic = item.optimistic;
        row.json = std::move(item.json);
        const auto a = activity.constFind(itemId(s->name(), row.key));
        if (a != activity.cend()) {
            row.pending = a->transactionCount();
            const std::optional<QJsonObject> synced =
                    item.optimistic ? item.synced : std::optional<QJsonObject>(row.data());
            if (const std::optional<QJsonObject> visible = merged(s->name(), synced, a->pending))
                row.setData(*visible);
        }
        rows->append(std::move(row));
    }
    return true;
}

void SyncEnginePrivate::loadStore(CollectionStore *s)
{
    s->setLoader(
            [this, s](qint64 after, qint64 upTo, int limit, QList<StoreRow> *rows) {
                return db && loadRows(s, after, upTo, limit, rows);
            },
            [this, s](const QString &key) -> qint64 {
                qint64 ord = 0;
                if (!db)
                    return 0;
                if (const SyncError error = db->visibleOrd(s->name(), scopeId, key, &ord);
                    error.isError())
                    report(error);
                return ord;
            });
    // The first rows now; the rest as views scroll to them (CollectionStore::fetchMore).
    qint64 windowEnd = 0;
    QList<StoreRow> rows;
    SyncError error = db->lastOrd(s->name(), scopeId, &windowEnd);
    if (error.isError() || !loadRows(s, 0, windowEnd, InitialRows, &rows)) {
        if (error.isError())
            report(error);
        s->clear();
        return;
    }
    const qint64 loadedUpTo = CollectionStore::loadedUpTo(rows, InitialRows, windowEnd);
    s->reset(std::move(rows), activeTransactionsIn(s->name()), loadedUpTo, windowEnd);
}

CollectionStore *SyncEnginePrivate::store(const QString &collection)
{
    if (CollectionStore *s = stores.value(collection))
        return s;
    if (!isValidIdentifier(collection)) {
        report(SyncError(SyncError::Validation,
                         SyncEngine::tr("\"%1\" is not a valid collection name: use letters, "
                                        "digits and underscores, starting with a letter.")
                                 .arg(collection)));
        return nullptr;
    }
    auto *s = new CollectionStore(collection, q);
    stores.insert(collection, s);
    if (db)
        loadStore(s);
    return s;
}

Transaction *SyncEnginePrivate::commitLocal(const QList<LocalOp> &ops, StrategyKind strategy,
                                            SyncError *error, Transaction *into)
{
    auto refuse = [&](const SyncError &e) -> Transaction * {
        *error = e;
        report(e);
        return nullptr;
    };
    if (ops.isEmpty())
        return refuse(SyncError(SyncError::Validation, SyncEngine::tr("There is nothing to change.")));
    if (!ensureOpen()) {
        *error = status->lastError(); // ensureOpen() reported it
        return nullptr;
    }
    if (maxQueueSize > 0 && activeCount >= maxQueueSize) {
        return refuse(SyncError(SyncError::QueueFull,
                                SyncEngine::tr("The outbox is full: %1 changes are waiting to be "
                                               "sent. Try again when some have gone out.")
                                        .arg(activeCount)));
    }

    const QDateTime now = QDateTime::currentDateTimeUtc();
    KeyGenerator &keys = KeyGenerator::global();

    TransactionRecord tx;
    tx.id = into ? into->id() : keys.next();
    tx.scope = scopeId;
    tx.strategy = strategy;
    tx.state = TransactionState::Pending;
    tx.createdAt = into ? into->createdAt() : now;
    tx.updatedAt = now;

    // The state each touched item reaches inside this transaction, in first-touch order.
    struct Staged
    {
        CollectionStore *store;
        QString key;
        std::optional<QJsonObject> visible;
        qsizetype lastMutation; // the mutation that made visible
    };
    QList<Staged> staged;
    staged.reserve(ops.size());
    QHash<QPair<QString, QString>, qsizetype> stagedIndex;
    stagedIndex.reserve(ops.size());
    tx.mutations.reserve(ops.size());
    QStringList mutationItems; // the item id of each mutation
    mutationItems.reserve(ops.size());
    // The id of each staged item (same index), as Ordering::Entry::keysOf() lists them.
    QStringList itemKeys;
    itemKeys.reserve(ops.size());

    for (const LocalOp &op : ops) {
        CollectionStore *s = store(op.collection);
        if (!s) {
            *error = status->lastError(); // store() reported it
            return nullptr;
        }
        const auto id = qMakePair(op.collection, op.key);
        const qsizetype si = stagedIndex.value(id, -1);
        const StoreRow *row = s->find(op.key);
        const std::optional<QJsonObject> current = si >= 0
                ? staged.at(si).visible
                : (row ? std::optional<QJsonObject>(row->data()) : std::nullopt);

        MutationRecord m;
        m.id = keys.next();
        m.transactionId = tx.id;
        m.sequence = int(tx.mutations.size());
        m.collection = op.collection;
        m.key = op.key;
        m.type = op.type;
        // A hidden row (removed locally) still has the version its removal was based on.
        const QString item = si >= 0 ? itemKeys.at(si) : itemId(op.collection, op.key);
        m.baseVersion = row ? row->version : activity.value(item).version();
        m.createdAt = now;
        m.updatedAt = now;
        switch (op.type) {
        case MutationType::Insert:
            m.modified = op.values;
            if (current) {
                return refuse(SyncError(SyncError::Validation,
                                        SyncEngine::tr("An item with key \"%1\" already exists in "
                                                       "\"%2\".")
                                                .arg(op.key, op.collection)));
            }
            m.changes = op.values;
            break;
        case MutationType::Update:
        case MutationType::Remove:
            if (!current) {
                return refuse(SyncError(SyncError::Validation,
                                        SyncEngine::tr("There is no item with key \"%1\" in "
                                                       "\"%2\".")
                                                .arg(op.key, op.collection)));
            }
            m.original = *current;
            if (op.type == MutationType::Update)
                m.changes = op.values;
            break;
        }
        const std::optional<QJsonObject> after = Overlay::apply(current, m);
        if (after)
            m.modified = *after;

        if (si >= 0) {
            staged[si].visible = after;
            staged[si].lastMutation = tx.mutations.size();
        } else {
            stagedIndex.insert(id, staged.size());
            staged.append({ s, op.key, after, tx.mutations.size() });
            itemKeys.append(item);
        }
        tx.mutations.append(std::move(m));
        mutationItems.append(item);
    }

    // Ordered (T3): behind the most recent transaction that holds one of its items.
    const QString blocker = Ordering::blockerFor(Ordering::Entry::of(tx, itemKeys), holders(tx));
    if (!blocker.isEmpty())
        Lifecycle::queue(tx, blocker, now);

    QList<SyncDatabase::ItemWrite> writes;
    writes.reserve(staged.size());
    for (const Staged &st : std::as_const(staged)) {
        const StoreRow *row = st.store->find(st.key);
        writes.append({ st.store->name(), st.key, 0, st.visible, row ? row->ord : 0, {},
                        st.lastMutation });
    }

    const SyncError writeError = db->writeLocalTransaction(tx, &writes);
    if (writeError.isError())
        return refuse(writeError);

    // Durable: now the models may show it. A row that appears again (removed locally, then
    // inserted) keeps the version and the active transactions its key has.
    Transaction *t = into;
    if (t)
        t->setRecord(tx);
    else
        t = new Transaction(tx, q);
    addTransaction(t, itemKeys, &mutationItems);
    QHash<CollectionStore *, QList<RowState>> perStore;
    for (qsizetype i = 0; i < staged.size(); ++i) {
        const Staged &st = staged.at(i);
        const StoreRow *row = st.store->find(st.key);
        const ItemActivity &a = activity[itemKeys.at(i)];
        QList<RowState> &states = perStore[st.store];
        if (states.isEmpty())
            states.reserve(staged.size() - i);
        states.append({ st.key, writes.at(i).ord, st.visible, writes.at(i).json,
                        row ? row->version : a.version(), a.transactionCount(), true,
                        row ? row->lastError : SyncError() });
    }
    for (auto it = perStore.cbegin(); it != perStore.cend(); ++it) {
        it.key()->applyStates(it.value());
        it.key()->setPendingTransactions(activeTransactionsIn(it.key()->name()));
    }
    if (autoSync)
        scheduleSync(LocalChangeDebounceMs);

    updateStatusCounts();
    Q_EMIT q->transactionAdded(t);
    emitEvent(QStringLiteral("created"), tx);
    return t;
}

int SyncEnginePrivate::ItemActivity::transactionCount() const
{
    int count = 0;
    for (qsizetype i = 0; i < pending.size(); ++i) {
        if (i == 0 || pending.at(i).transactionId != pending.at(i - 1).transactionId)
            ++count;
    }
    return count;
}

void SyncEnginePrivate::noteActive(const TransactionRecord &tx, const QStringList *mutationItems)
{
    if (activity.capacity() < activity.size() + tx.mutations.size())
        activity.reserve(activity.size() + tx.mutations.size()); // once for a bulk transaction
    for (qsizetype i = 0; i < tx.mutations.size(); ++i) {
        const MutationRecord &m = tx.mutations.at(i);
        activity[mutationItems ? mutationItems->at(i) : itemId(m.collection, m.key)].pending.append(m);
    }
    for (const QString &collection : tx.collections())
        ++activeByCollection[collection];
}

void SyncEnginePrivate::noteFinished(const TransactionRecord &tx)
{
    for (const MutationRecord &m : tx.mutations) {
        const QString id = itemId(m.collection, m.key);
        auto it = activity.find(id);
        if (it == activity.end())
            continue;
        it->pending.removeIf([&](const MutationRecord &p) { return p.transactionId == tx.id; });
        if (it->pending.isEmpty())
            activity.erase(it);
    }
    for (const QString &collection : tx.collections()) {
        if (--activeByCollection[collection] <= 0)
            activeByCollection.remove(collection);
    }
}

void SyncEnginePrivate::report(const SyncError &error)
{
    qCWarning(lcEngine).noquote() << error.toString();
    status->setLastError(error);
    Q_EMIT q->errorOccurred(error);
}

void SyncEnginePrivate::updateStatusCounts()
{
    status->setPendingCount(activeCount);
    status->setFailedCount(failedCount);
}

void SyncEnginePrivate::setRecord(Transaction *t, const TransactionRecord &record)
{
    const TransactionRecord &old = t->record();
    const TransactionState before = old.state;
    if (old.state == TransactionState::Queued && !old.queuedBehind.isEmpty())
        waitingFor.remove(old.queuedBehind, old.id);
    if (record.state == TransactionState::Queued && !record.queuedBehind.isEmpty())
        waitingFor.insert(record.queuedBehind, record.id);
    activeCount += int(isActive(record.state)) - int(isActive(before));
    failedCount += int(record.state == TransactionState::Failed)
            - int(before == TransactionState::Failed);
    const bool attemptsChanged = old.attempts.size() != record.attempts.size()
            || old.currentAttempt != record.currentAttempt;
    t->setRecord(record);
    if (attemptsChanged && !record.attempts.isEmpty()) {
        const AttemptRecord &a = record.attempts.constLast();
        if (!a.completedAt.isValid())
            emitEvent(QStringLiteral("attemptStarted"), record);
    }
    if (before != record.state) {
        if (record.state == TransactionState::Pending && record.attempts.size()
            && record.attempts.constLast().retryScheduledFor.isValid()
            && before == TransactionState::Persisting)
            emitEvent(QStringLiteral("retryScheduled"), record);
        emitEvent(QStringLiteral("stateChanged"), record);
        Q_EMIT q->transactionStateChanged(t->id(), t->state());
        if (record.state == TransactionState::Failed) {
            for (const QString &collection : record.collections()) {
                if (CollectionStore *s = stores.value(collection))
                    Q_EMIT s->transactionFailed(t);
            }
        }
    }
    Q_EMIT q->transactionChanged(t);
}

void SyncEnginePrivate::emitEvent(const QString &type, const TransactionRecord &record)
{
    QVariantMap event {
        { QStringLiteral("type"), type },
        { QStringLiteral("transactionId"), record.id },
        { QStringLiteral("state"), int(record.state) },
        { QStringLiteral("stateName"), nameOf(record.state) },
        { QStringLiteral("at"), QDateTime::currentDateTimeUtc() },
        { QStringLiteral("attempt"), record.currentAttempt },
    };
    if (record.error.isError())
        event.insert(QStringLiteral("error"), QVariant::fromValue(record.error));
    if (!record.queuedBehind.isEmpty())
        event.insert(QStringLiteral("queuedBehind"), record.queuedBehind);
    if (!record.attempts.isEmpty() && record.attempts.constLast().retryScheduledFor.isValid()
        && record.state == TransactionState::Pending)
        event.insert(QStringLiteral("retryScheduledFor"),
                     record.attempts.constLast().retryScheduledFor);
    Q_EMIT q->transactionEvent(event);
}

} // namespace Synq
