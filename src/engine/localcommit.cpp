// SPDX-License-Identifier: BSD-3-Clause
#include "localcommit_p.h"

#include "syncengine_p.h"
#include "transaction_p.h"

#include <synq/identifier.h>
#include <synq/json.h>
#include <synq/keygenerator.h>
#include <synq/lifecycle.h>
#include <synq/overlay.h>

#include <QtCore/QCoreApplication>

namespace Synq {

namespace {

// The messages keep the context they have always had in the translations.
QString tr(const char *text)
{
    return QCoreApplication::translate("Synq::SyncCollection", text);
}

bool toObject(const QVariant &given, QJsonObject *out, SyncError *error)
{
    const QVariant value = Json::unwrapped(given);
    const int type = value.metaType().id();
    if (type != QMetaType::QVariantMap && type != QMetaType::QVariantHash
        && type != QMetaType::QJsonObject) {
        *error = SyncError(SyncError::Validation,
                           tr("An item must be an object with fields; got %1.")
                                   .arg(QString::fromLatin1(value.metaType().name()
                                                                    ? value.metaType().name()
                                                                    : "nothing")));
        return false;
    }
    QJsonValue json;
    QString bad;
    if (!Json::fromVariant(value, &json, &bad)) {
        *error = SyncError(SyncError::Validation,
                           tr("The value of \"%1\" cannot be stored as JSON.").arg(bad));
        return false;
    }
    *out = json.toObject();
    return true;
}

} // namespace

bool LocalCommit::toKey(const QVariant &value, QString *out, SyncError *error)
{
    QJsonValue json;
    Json::fromVariant(value, &json);
    if (json.isString() && !json.toString().isEmpty()) {
        *out = json.toString();
    } else if (json.isDouble() && json.toDouble() == double(json.toInteger())) {
        *out = QString::number(json.toInteger());
    } else {
        *error = SyncError(SyncError::Validation,
                           tr("A key must be a non-empty string or an integer."));
        return false;
    }
    if (out->size() > 512) {
        *error = SyncError(SyncError::Validation, tr("A key may be at most 512 characters long."));
        return false;
    }
    return true;
}

bool LocalCommit::prepareInsert(const QString &collection, const QVariant &item,
                                      LocalOp *op, SyncError *error) const
{
    QJsonObject object;
    if (!toObject(item, &object, error))
        return false;
    resolveReferences(collection, object);
    const QString keyField = e->config(collection).keyField;
    const QJsonValue keyValue = object.value(keyField);
    if (keyValue.isUndefined() || keyValue.isNull()
        || (keyValue.isString() && keyValue.toString().isEmpty())) {
        op->key = KeyGenerator::global().next();
        object.insert(keyField, op->key);
    } else if (!toKey(keyValue.toVariant(), &op->key, error)) {
        return false;
    }
    op->collection = collection;
    op->type = MutationType::Insert;
    op->values = object;
    return true;
}

void LocalCommit::resolveReferences(const QString &collection, QJsonObject &object) const
{
    if (e->idMap.isEmpty())
        return;
    for (const Remapping::Relation &r : std::as_const(e->relations)) {
        if (r.collection != collection)
            continue;
        const auto it = object.find(r.field);
        if (it == object.end())
            continue;
        const QString key = Remapping::referenceKey(it.value());
        const auto server = e->idMap.constFind(itemId(r.target, key));
        if (!key.isEmpty() && server != e->idMap.cend())
            it.value() = *server;
    }
}

bool LocalCommit::prepareUpdate(const QString &collection, const QVariant &key,
                                      const QVariant &changes, LocalOp *op,
                                      SyncError *error) const
{
    if (!toKey(key, &op->key, error))
        return false;
    op->key = e->currentKey(collection, op->key); // a client key the server replaced
    QJsonObject object;
    if (!toObject(changes, &object, error))
        return false;
    resolveReferences(collection, object);
    if (object.isEmpty()) {
        *error = SyncError(SyncError::Validation,
                           tr("An update needs at least one field to change."));
        return false;
    }
    const QString keyField = e->config(collection).keyField;
    if (object.contains(keyField)) {
        const std::optional<QJsonObject> current = visibleState(collection, op->key);
        if (!current || current->value(keyField) != object.value(keyField)) {
            *error = SyncError(SyncError::Validation,
                               tr("The key field \"%1\" cannot be changed.").arg(keyField));
            return false;
        }
    }
    op->collection = collection;
    op->type = MutationType::Update;
    op->values = object;
    return true;
}

bool LocalCommit::prepareRemove(const QString &collection, const QVariant &key,
                                      LocalOp *op, SyncError *error) const
{
    if (!toKey(key, &op->key, error))
        return false;
    op->key = e->currentKey(collection, op->key);
    op->collection = collection;
    op->type = MutationType::Remove;
    return true;
}

std::optional<QJsonObject> LocalCommit::visibleState(const QString &collection,
                                                     const QString &key) const
{
    CollectionStore *s = e->stores.value(collection);
    const StoreRow *row = s ? s->find(key) : nullptr;
    if (!row)
        return std::nullopt;
    return row->data();
}

Transaction *LocalCommit::commit(const QList<LocalOp> &ops, StrategyKind strategy,
                                 SyncError *error, Transaction *into)
{
    auto refuse = [&](const SyncError &refusal) -> Transaction * {
        *error = refusal;
        e->report(refusal);
        return nullptr;
    };
    if (ops.isEmpty())
        return refuse(SyncError(SyncError::Validation, SyncEngine::tr("There is nothing to change.")));
    if (!e->db) {
        // Opened by this change: the stored rows come in as inserted rows, never as a reset
        // inside the call that made the change.
        e->fillingInsideMutation = true;
        const bool opened = e->ensureOpen();
        e->fillingInsideMutation = false;
        if (!opened) {
            *error = e->status->lastError(); // ensureOpen() reported it
            return nullptr;
        }
    }
    const int active = e->outbox.activeCount();
    if (e->maxQueueSize > 0 && active >= e->maxQueueSize) {
        return refuse(SyncError(SyncError::QueueFull,
                                SyncEngine::tr("The outbox is full: %1 changes are waiting to be "
                                               "sent. Try again when some have gone out.")
                                        .arg(active)));
    }

    const QDateTime now = QDateTime::currentDateTimeUtc();
    KeyGenerator &keys = KeyGenerator::global();

    TransactionRecord tx;
    tx.id = into ? into->id() : keys.next();
    tx.scope = e->scopeId;
    tx.strategy = strategy;
    tx.state = TransactionState::Pending;
    tx.createdAt = into ? into->createdAt() : now;
    tx.updatedAt = now;
    tx.hlc = e->nextStamp();

    // The state each touched item reaches inside this transaction, in first-touch order.
    struct TouchedItem
    {
        CollectionStore *store;
        QString key;
        std::optional<QJsonObject> visible;
        qsizetype lastMutation; // the mutation that made visible
    };
    QList<TouchedItem> touched;
    touched.reserve(ops.size());
    QHash<QPair<QString, QString>, qsizetype> touchedIndex;
    touchedIndex.reserve(ops.size());
    tx.mutations.reserve(ops.size());
    QStringList mutationItems; // the item id of each mutation
    mutationItems.reserve(ops.size());
    // The id of each touched item (same index), as Ordering::Entry::keysOf() lists them.
    QStringList itemIds;
    itemIds.reserve(ops.size());

    for (const LocalOp &op : ops) {
        CollectionStore *s = e->store(op.collection);
        if (!s) {
            *error = e->status->lastError(); // store() reported it
            return nullptr;
        }
        const auto id = qMakePair(op.collection, op.key);
        const qsizetype ti = touchedIndex.value(id, -1);
        const StoreRow *row = s->find(op.key);
        const std::optional<QJsonObject> current = ti >= 0
                ? touched.at(ti).visible
                : (row ? std::optional<QJsonObject>(row->data()) : std::nullopt);

        MutationRecord m;
        m.id = keys.next();
        m.transactionId = tx.id;
        m.sequence = int(tx.mutations.size());
        m.collection = op.collection;
        m.key = op.key;
        m.type = op.type;
        // A hidden row (removed locally) still has the version its removal was based on.
        const QString item = ti >= 0 ? itemIds.at(ti) : itemId(op.collection, op.key);
        const Outbox::Pending *pending = row ? nullptr : e->outbox.pendingOn(item);
        m.baseVersion = row ? row->version : (pending ? pending->baseVersion() : 0);
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

        if (ti >= 0) {
            touched[ti].visible = after;
            touched[ti].lastMutation = tx.mutations.size();
        } else {
            touchedIndex.insert(id, touched.size());
            touched.append({ s, op.key, after, tx.mutations.size() });
            itemIds.append(item);
        }
        tx.mutations.append(std::move(m));
        mutationItems.append(item);
    }

    // Ordered: behind the most recent transaction that holds one of its items.
    const QString blocker =
            Ordering::blockerFor(Ordering::Entry::of(tx, itemIds), e->outbox.holders(tx));
    if (!blocker.isEmpty())
        Lifecycle::queue(tx, blocker, now);

    QList<SyncDatabase::ItemWrite> writes;
    writes.reserve(touched.size());
    for (const TouchedItem &ti : std::as_const(touched)) {
        const StoreRow *row = ti.store->find(ti.key);
        writes.append({ ti.store->name(), ti.key, 0, ti.visible, row ? row->ord : 0, {},
                        ti.lastMutation });
    }

    const SyncError writeError = e->db->writeLocalTransaction(tx, &writes);
    if (writeError.isError())
        return refuse(writeError);

    // Durable: now the models may show it. A row that appears again (removed locally, then
    // inserted) keeps the version and the active transactions its key has.
    Transaction *t = into;
    if (t)
        TransactionPrivate::get(t)->setRecord(tx);
    else
        t = TransactionPrivate::create(tx, e->q);
    e->outbox.add(t, tx, itemIds, &mutationItems);
    const bool anyFailed = e->outbox.failedCount() > 0;
    QHash<CollectionStore *, QList<RowState>> perStore;
    for (qsizetype i = 0; i < touched.size(); ++i) {
        const TouchedItem &ti = touched.at(i);
        const StoreRow *row = ti.store->find(ti.key);
        const QString &item = itemIds.at(i);
        const Outbox::Pending *pending = e->outbox.pendingOn(item);
        QList<RowState> &states = perStore[ti.store];
        if (states.isEmpty())
            states.reserve(touched.size() - i);
        RowState state;
        state.key = ti.key;
        state.ord = writes.at(i).ord;
        state.visible = ti.visible;
        state.json = writes.at(i).json;
        state.version = row ? row->version : pending->baseVersion();
        state.pending = pending->transactionCount();
        state.optimistic = true;
        state.syncing = e->outbox.isSyncing(item);
        state.conflict = e->outbox.inConflict(item);
        if (anyFailed)
            state.lastError = e->outbox.failureOn(item);
        states.append(std::move(state));
    }
    for (auto it = perStore.cbegin(); it != perStore.cend(); ++it) {
        it.key()->applyStates(it.value());
        it.key()->setPendingTransactions(e->outbox.activeIn(it.key()->name()));
    }
    e->scheduler.localChange();

    e->updateStatusCounts();
    Q_EMIT e->q->transactionAdded(t);
    e->emitEvent(QStringLiteral("created"), tx);
    return t;
}

} // namespace Synq
