// SPDX-License-Identifier: BSD-3-Clause
#include "syncengine_p.h"

#include "pullapplier_p.h"

#include <synq/identifier.h>
#include <synq/json.h>
#include <synq/keygenerator.h>
#include <synq/overlay.h>

#include <QtCore/QDir>
#include <QtCore/QLoggingCategory>
#include <QtCore/QSet>
#include <QtCore/QStandardPaths>

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
    d->transport = transport;
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

void SyncEngine::syncNow()
{
    d->startRun();
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
    for (Transaction *t : std::as_const(transactions))
        t->deleteLater();
    transactions.clear();
    transactionOrder.clear();
    activity.clear();
    activeByCollection.clear();
    absorbedBy.clear();
    db.reset();
    updateStatusCounts();
    Q_EMIT q->readyChanged();
}

void SyncEnginePrivate::loadScope()
{
    // Whatever a run was doing belongs to the previous scope.
    running = false;
    ++runSerial;
    deliveryQueue.clear();
    for (Transaction *t : std::as_const(transactions))
        t->deleteLater();
    transactions.clear();
    transactionOrder.clear();
    activity.clear();
    activeByCollection.clear();
    absorbedBy.clear();

    QList<TransactionRecord> records;
    const SyncError error = db->loadTransactions(scopeId, false, &records);
    if (error.isError())
        report(error);
    for (TransactionRecord record : std::as_const(records)) {
        // Nothing is in flight when a scope loads: a push interrupted by a crash or a close
        // is simply pending again (the server deduplicates whatever it did receive).
        if (record.state == TransactionState::Persisting)
            record.state = TransactionState::Pending;
        transactions.insert(record.id, new Transaction(record, q));
        transactionOrder.append(record.id);
        if (!record.mergedInto.isEmpty())
            absorbedBy.insert(record.mergedInto, record.id);
        if (isActive(record.state))
            noteActive(record);
    }
    for (CollectionStore *s : std::as_const(stores))
        loadStore(s);
    updateStatusCounts();
}

void SyncEnginePrivate::loadStore(CollectionStore *s)
{
    QList<SyncDatabase::StoredItem> items;
    const SyncError error = db->loadItems(s->name(), scopeId, &items);
    if (error.isError()) {
        report(error);
        s->clear();
        return;
    }
    // Rows with active transactions show their synced state with those folded over it: the
    // stored overlay may predate a pulled change that landed just before a crash.
    QHash<QString, int> pending;
    for (SyncDatabase::StoredItem &item : items) {
        const auto a = activity.constFind(itemId(s->name(), item.key));
        if (a == activity.cend())
            continue;
        pending.insert(item.key, a->transactionCount());
        const std::optional<QJsonObject> synced = item.optimistic ? item.synced : item.data;
        if (const std::optional<QJsonObject> visible = Overlay::visibleState(synced, a->pending))
            item.data = *visible;
    }
    s->reset(items, pending, activeTransactionsIn(s->name()));
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
                                            SyncError *error)
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

    const QDateTime now = QDateTime::currentDateTimeUtc();
    KeyGenerator &keys = KeyGenerator::global();

    TransactionRecord tx;
    tx.id = keys.next();
    tx.scope = scopeId;
    tx.strategy = strategy;
    tx.state = TransactionState::Pending;
    tx.createdAt = now;
    tx.updatedAt = now;

    // The state each touched item reaches inside this transaction, in first-touch order.
    struct Staged
    {
        CollectionStore *store;
        QString key;
        std::optional<QJsonObject> visible;
    };
    QList<Staged> staged;
    QHash<QPair<QString, QString>, qsizetype> stagedIndex;

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
                : (row ? std::optional<QJsonObject>(row->data) : std::nullopt);

        MutationRecord m;
        m.id = keys.next();
        m.transactionId = tx.id;
        m.sequence = int(tx.mutations.size());
        m.collection = op.collection;
        m.key = op.key;
        m.type = op.type;
        // A hidden row (removed locally) still has the version its removal was based on.
        m.baseVersion = row ? row->version : activity.value(itemId(op.collection, op.key)).version();
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
        } else {
            stagedIndex.insert(id, staged.size());
            staged.append({ s, op.key, after });
        }
        tx.mutations.append(std::move(m));
    }

    QList<SyncDatabase::ItemWrite> writes;
    writes.reserve(staged.size());
    for (const Staged &st : std::as_const(staged))
        writes.append({ st.store->name(), st.key, 0, st.visible });

    const SyncError writeError = db->writeLocalTransaction(tx, &writes);
    if (writeError.isError())
        return refuse(writeError);

    // Durable: now the models may show it. A row that appears again (removed locally, then
    // inserted) keeps the version and the active transactions its key has.
    noteActive(tx);
    QHash<CollectionStore *, QList<RowState>> perStore;
    for (qsizetype i = 0; i < staged.size(); ++i) {
        const Staged &st = staged.at(i);
        const StoreRow *row = st.store->find(st.key);
        const ItemActivity &a = activity[itemId(st.store->name(), st.key)];
        perStore[st.store].append({ st.key, writes.at(i).ord, st.visible,
                                    row ? row->version : a.version(), a.transactionCount(),
                                    true, row ? row->lastError : SyncError() });
    }
    for (auto it = perStore.cbegin(); it != perStore.cend(); ++it) {
        it.key()->applyStates(it.value());
        it.key()->setPendingTransactions(activeTransactionsIn(it.key()->name()));
    }
    if (autoSync)
        scheduleSync(LocalChangeDebounceMs);

    auto *t = new Transaction(tx, q);
    transactions.insert(tx.id, t);
    transactionOrder.append(tx.id);
    updateStatusCounts();
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

void SyncEnginePrivate::noteActive(const TransactionRecord &tx)
{
    for (const MutationRecord &m : tx.mutations)
        activity[itemId(m.collection, m.key)].pending.append(m);
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
    int pending = 0;
    int failed = 0;
    for (Transaction *t : std::as_const(transactions)) {
        if (t->state() == Transaction::Failed)
            ++failed;
        else if (t->state() != Transaction::Completed)
            ++pending;
    }
    status->setPendingCount(pending);
    status->setFailedCount(failed);
}

} // namespace Synq
