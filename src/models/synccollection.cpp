// SPDX-License-Identifier: BSD-3-Clause
#include <synq/synccollection.h>

#include "synccollection_p.h"

#include <synq/identifier.h>
#include <synq/json.h>
#include <synq/logging_p.h>

#include <QtCore/QMetaEnum>
#include <QtCore/QSet>

namespace Synq {

/*!
    \class Synq::SyncCollection
    \inmodule Synq
    \brief A live list model over one collection of a SyncEngine's local replica.

    Rows are the visible items: the synced state with every pending local change applied.
    Each name in fields becomes a role of the same name; the meta roles \c key,
    \c syncState, \c isOptimistic, \c pendingTransactions, \c lastError and \c version
    describe each row's sync state.

    insert(), update() and remove() (and the bulk insertMany(), updateMany() and
    removeMany()) write the change and its outbox entry to SQLite in one transaction, and the
    model shows the change before the call returns, with granular signals: \c rowsInserted,
    \c dataChanged naming exactly the changed roles, \c rowsRemoved. A bulk call is one
    transaction: all of it is stored, or none of it.

    Several SyncCollection objects on the same engine and collection name share one state:
    a change made through one shows in all of them.

    Refused changes (a value that is not JSON, an unknown key, a read-only collection, a
    database that cannot be written) return nullptr and report a SyncError through
    errorOccurred() here and on the engine; nothing stored before is touched.
*/

/*!
    \qmltype SyncCollection
    \inqmlmodule Synq
    \brief A live list model over one synced collection.

    \qml
    SyncCollection {
        id: todos
        engine: engine
        name: "todos"
        fields: ["title", "done"]
    }
    ListView {
        model: todos
        delegate: CheckBox {
            text: model.title
            checked: model.done
            onToggled: model.done = checked   // records an update mutation
        }
    }
    \endqml
*/

SyncCollection::SyncCollection(QObject *parent)
    : QAbstractListModel(parent), d(new SyncCollectionPrivate(this))
{
}

SyncCollection::SyncCollection(SyncEngine *engine, const QString &name, const QStringList &fields,
                               QObject *parent)
    : SyncCollection(parent)
{
    setFields(fields);
    setName(name);
    setEngine(engine);
}

SyncCollection::~SyncCollection()
{
    for (const auto &c : std::as_const(d->connections))
        disconnect(c);
}

QStringList SyncCollection::metaRoleNames()
{
    return { QStringLiteral("key"),         QStringLiteral("syncState"),
             QStringLiteral("isOptimistic"), QStringLiteral("pendingTransactions"),
             QStringLiteral("lastError"),   QStringLiteral("version") };
}

SyncError SyncCollectionPrivate::refuse(const SyncError &error) const
{
    qCWarning(lcModel).noquote() << name << error.toString();
    Q_EMIT q->errorOccurred(error);
    return error;
}

// Refuses a change: reported here and on the engine, like every error the engine reports.
Transaction *SyncCollectionPrivate::fail(const SyncError &error) const
{
    refuse(error);
    if (engine)
        SyncEnginePrivate::get(engine)->report(error);
    return nullptr;
}

void SyncCollectionPrivate::detach()
{
    for (const auto &c : std::as_const(connections))
        QObject::disconnect(c);
    connections.clear();
    store = nullptr;
    decodedRow = -1;
}

void SyncCollectionPrivate::attach()
{
    CollectionStore *next = nullptr;
    if (engine && !name.isEmpty()) {
        if (!isValidIdentifier(name)) {
            refuse(SyncError(SyncError::Validation,
                             SyncCollection::tr("\"%1\" is not a valid collection name: use "
                                                "letters, digits and underscores, starting with "
                                                "a letter.")
                                     .arg(name)));
        } else {
            next = SyncEnginePrivate::get(engine)->store(name);
        }
    }
    publishConfig();
    if (next == store)
        return;

    const int oldCount = q->count();
    const int oldPending = q->pendingCount();
    // An empty model that stays empty (the engine is not open yet, or the collection has no
    // rows) announces nothing: a collection resets at most once, when it first fills.
    const bool announce = oldCount > 0 || (next && next->count() > 0);
    if (announce)
        q->beginResetModel();
    detach();
    store = next;
    if (store) {
        CollectionStore *s = store;
        connections << QObject::connect(s, &CollectionStore::aboutToBeReset, q,
                                        [this] { q->beginResetModel(); });
        connections << QObject::connect(s, &CollectionStore::wasReset, q, [this] {
            q->endResetModel();
            Q_EMIT q->countChanged();
        });
        connections << QObject::connect(s, &CollectionStore::rowsAboutToBeInserted, q,
                                        [this](int first, int last) {
                                            q->beginInsertRows(QModelIndex(), first, last);
                                        });
        connections << QObject::connect(s, &CollectionStore::rowsInserted, q, [this] {
            q->endInsertRows();
            Q_EMIT q->countChanged();
        });
        connections << QObject::connect(s, &CollectionStore::rowsAboutToBeRemoved, q,
                                        [this](int first, int last) {
                                            q->beginRemoveRows(QModelIndex(), first, last);
                                        });
        connections << QObject::connect(s, &CollectionStore::rowsRemoved, q, [this] {
            q->endRemoveRows();
            Q_EMIT q->countChanged();
        });
        connections << QObject::connect(
                s, &CollectionStore::rowChanged, q,
                [this](int row, const QStringList &changed, quint32 meta) {
                    const QList<int> roles = rolesFor(changed, meta);
                    if (roles.isEmpty())
                        return;
                    const QModelIndex index = q->index(row);
                    Q_EMIT q->dataChanged(index, index, roles);
                });
        connections << QObject::connect(s, &CollectionStore::pendingTransactionsChanged, q,
                                        &SyncCollection::pendingCountChanged);
        connections << QObject::connect(s, &CollectionStore::transactionFailed, q,
                                        [this](Transaction *t) {
                                            Q_EMIT q->mutationFailed(t, t->error());
                                        });
        connections << QObject::connect(s, &CollectionStore::conflictDetected, q,
                                        &SyncCollection::conflictDetected);
        connections << QObject::connect(s, &CollectionStore::idRemapped, q,
                                        &SyncCollection::idRemapped);
        connections << QObject::connect(s, &QObject::destroyed, q, [this] {
            q->beginResetModel();
            detach();
            q->endResetModel();
            Q_EMIT q->countChanged();
            Q_EMIT q->pendingCountChanged();
        });
    }
    if (announce)
        q->endResetModel();
    if (oldCount != q->count())
        Q_EMIT q->countChanged();
    if (oldPending != q->pendingCount())
        Q_EMIT q->pendingCountChanged();
}

QList<int> SyncCollectionPrivate::rolesFor(const QStringList &changed, quint32 meta) const
{
    QList<int> roles;
    for (const QString &field : changed) {
        const int i = int(fields.indexOf(field));
        if (i >= 0) {
            roles.append(SyncCollection::FirstFieldRole + i);
            if (i == 0)
                roles.append(Qt::DisplayRole);
        }
    }
    if (meta & CollectionStore::MetaKey)
        roles.append(SyncCollection::KeyRole);
    if (meta & CollectionStore::MetaSyncState)
        roles.append(SyncCollection::SyncStateRole);
    if (meta & CollectionStore::MetaOptimistic)
        roles.append(SyncCollection::IsOptimisticRole);
    if (meta & CollectionStore::MetaPending)
        roles.append(SyncCollection::PendingTransactionsRole);
    if (meta & CollectionStore::MetaLastError)
        roles.append(SyncCollection::LastErrorRole);
    if (meta & CollectionStore::MetaVersion)
        roles.append(SyncCollection::VersionRole);
    return roles;
}

SyncEngine *SyncCollection::engine() const
{
    return d->engine;
}

void SyncCollection::setEngine(SyncEngine *engine)
{
    if (d->engine == engine)
        return;
    d->engine = engine;
    d->attach();
    Q_EMIT engineChanged();
}

QString SyncCollection::name() const
{
    return d->name;
}

void SyncCollection::setName(const QString &name)
{
    if (d->name == name)
        return;
    d->name = name;
    d->attach();
    Q_EMIT nameChanged();
}

QStringList SyncCollection::fields() const
{
    return d->fields;
}

void SyncCollection::setFields(const QStringList &fields)
{
    if (d->fields == fields)
        return;
    const QStringList meta = metaRoleNames();
    QSet<QString> seen;
    for (const QString &field : fields) {
        QString problem;
        if (!isValidIdentifier(field))
            problem = tr("\"%1\" is not a valid field name: use letters, digits and "
                         "underscores, starting with a letter.")
                              .arg(field);
        else if (meta.contains(field))
            problem = tr("\"%1\" is the name of a meta role and cannot be a field.").arg(field);
        else if (seen.contains(field))
            problem = tr("The field \"%1\" is listed twice.").arg(field);
        if (!problem.isEmpty()) {
            d->fail(SyncError(SyncError::Validation, problem));
            return;
        }
        seen.insert(field);
    }
    // The roles change. Rows shown so far are shown again with them; an empty model has
    // nothing to show again (a view builds its delegates' roles with the first row).
    const bool announce = count() > 0;
    if (announce)
        beginResetModel();
    d->fields = fields;
    if (announce)
        endResetModel();
    Q_EMIT fieldsChanged();
}

QString SyncCollection::keyField() const
{
    return d->keyField;
}

void SyncCollection::setKeyField(const QString &keyField)
{
    if (d->keyField == keyField)
        return;
    if (!isValidIdentifier(keyField)) {
        d->fail(SyncError(SyncError::Validation,
                          tr("\"%1\" is not a valid key field name.").arg(keyField)));
        return;
    }
    d->keyField = keyField;
    d->publishConfig();
    Q_EMIT keyFieldChanged();
}

SyncCollection::Strategy SyncCollection::strategy() const
{
    return d->strategy;
}

void SyncCollection::setStrategy(Strategy strategy)
{
    if (d->strategy == strategy)
        return;
    d->strategy = strategy;
    d->publishConfig();
    Q_EMIT strategyChanged();
}

/*!
    \property Synq::SyncCollection::awaitSync
    \brief Whether a transaction stays PersistedAwaitingSync until its change comes back.

    Off by default: a transaction completes when its persist succeeds. On, it completes only
    when sync (a pull, or an update from the backend) brings its change back — at the version
    the server gave it, or, for a custom persist handler that reports no version, with the
    changed fields equal. Until then it keeps its items locked for the ordered strategy. After a
    restart, a transaction that was awaiting sync is taken as completed (its persist succeeded).
*/
bool SyncCollection::awaitSync() const
{
    return d->awaitSync;
}

void SyncCollection::setAwaitSync(bool await)
{
    if (d->awaitSync == await)
        return;
    d->awaitSync = await;
    d->publishConfig();
    Q_EMIT awaitSyncChanged();
}

/*!
    Persists this collection's transactions with \a handler instead of the engine's transport,
    to write them to any API. The handler gets each transaction whose first mutation is in
    this collection, and calls its callback once: without an error when the change is stored,
    with a SyncError otherwise (retried by the engine's retryPolicy while it is retryable).
    Several models on the same collection share one handler: the last one set. An empty handler
    goes back to the transport.

    \code
    todos.setPersistHandler([api](Synq::Transaction *t, const Synq::SyncEngine::PersistCallback &done) {
        api->save(t->mutations(), [done](bool ok, const QString &why) {
            done(ok ? Synq::SyncError() : Synq::SyncError(Synq::SyncError::Network, why));
        });
    });
    \endcode
*/
/*!
    Sets the function that puts this collection's pending changes back on top of a newly
    synced state (see SyncEngine::setMergeFunction()), for a field-aware merge of your own:

    \code
    todos.setMergeFunction([](const std::optional<QJsonObject> &synced,
                              const QList<Synq::MutationRecord> &pending) -> std::optional<QJsonObject> {
        QJsonObject row = synced.value_or(QJsonObject());
        for (const Synq::MutationRecord &m : pending) {
            if (m.type == Synq::MutationType::Remove)
                return std::nullopt;
            for (auto it = m.changes.begin(); it != m.changes.end(); ++it) {
                if (it.key() == QLatin1String("tags")) // union, not replace
                    row.insert(it.key(), unite(row.value(it.key()), it.value()));
                else
                    row.insert(it.key(), it.value());
            }
        }
        return row;
    });
    \endcode
*/
void SyncCollection::setMergeFunction(SyncEngine::MergeFunction merge)
{
    d->merge = std::move(merge);
    d->mergeSet = true;
    d->publishConfig();
}

void SyncCollection::setPersistHandler(SyncEngine::PersistHandler handler)
{
    d->persist = std::move(handler);
    d->persistSet = true;
    d->publishConfig();
}

SyncCollection::ConflictPolicy SyncCollection::conflictPolicy() const
{
    return d->conflictPolicy;
}

void SyncCollection::setConflictPolicy(ConflictPolicy policy)
{
    if (d->conflictPolicy == policy)
        return;
    d->conflictPolicy = policy;
    d->publishConfig();
    Q_EMIT conflictPolicyChanged();
}

QVariantMap SyncCollection::fieldPolicies() const
{
    return d->fieldPolicies;
}

void SyncCollection::setFieldPolicies(const QVariantMap &policies)
{
    if (d->fieldPolicies == policies)
        return;
    d->fieldPolicies = policies;
    d->publishConfig();
    Q_EMIT fieldPoliciesChanged();
}

ConflictResolution::FieldPolicies SyncCollectionPrivate::conflictFieldPolicies() const
{
    ConflictResolution::FieldPolicies out;
    const QMetaEnum names = QMetaEnum::fromType<SyncCollection::FieldPolicy>();
    for (auto it = fieldPolicies.cbegin(); it != fieldPolicies.cend(); ++it) {
        // A value of the enum (SyncCollection.MergeArrays in QML), or its name.
        bool ok = false;
        int value = -1;
        if (it->typeId() == QMetaType::QString)
            value = names.keyToValue(it->toString().toLatin1().constData(), &ok);
        else
            value = it->toInt(&ok);
        if (!ok || !names.valueToKey(value)) {
            refuse(SyncError(SyncError::Validation,
                             SyncCollection::tr("fieldPolicies: \"%1\" of the field \"%2\" is "
                                                "not a field policy; the field is merged with "
                                                "LocalWins.")
                                     .arg(it->toString(), it.key())));
            continue;
        }
        out.fields.insert(it.key(), ConflictResolution::FieldPolicy(value));
    }
    return out;
}

/*!
    \property Synq::SyncCollection::conflictFree
    \brief Whether the collection is append-only, so that its records never conflict (C5).

    Off by default. On, a conflict on push is never merged: the server's state stands
    (AdoptServer) whatever the conflictPolicy says. Use it for logs and other collections where
    every record is written once under a key of its own.
*/
bool SyncCollection::isConflictFree() const
{
    return d->conflictFree;
}

void SyncCollection::setConflictFree(bool conflictFree)
{
    if (d->conflictFree == conflictFree)
        return;
    d->conflictFree = conflictFree;
    d->publishConfig();
    Q_EMIT conflictFreeChanged();
}

/*!
    Resolves this collection's conflicts with \a resolver when conflictPolicy is \c Custom:
    called with the local record, the server's and the base record the local change was made
    on (see SyncEngine::ConflictResolver). An empty function leaves conflicts to the app
    (as \c Manual).

    \code
    notes.setConflictPolicy(Synq::SyncCollection::Custom);
    notes.setConflictResolver([](const QJsonObject &local, const QJsonObject &server,
                                 const QJsonObject &base) -> std::optional<QJsonObject> {
        QJsonObject merged = server;
        merged["body"] = server["body"].toString() + "\n" + local["body"].toString();
        return merged;
    });
    \endcode
*/
void SyncCollection::setConflictResolver(SyncEngine::ConflictResolver resolver)
{
    d->resolver = std::move(resolver);
    d->publishConfig();
}

SyncCollection::CachePolicy SyncCollection::cachePolicy() const
{
    return d->cachePolicy;
}

void SyncCollection::setCachePolicy(CachePolicy policy)
{
    if (d->cachePolicy == policy)
        return;
    d->cachePolicy = policy;
    Q_EMIT cachePolicyChanged();
}

bool SyncCollection::isReadOnly() const
{
    return d->readOnly;
}

void SyncCollection::setReadOnly(bool readOnly)
{
    if (d->readOnly == readOnly)
        return;
    d->readOnly = readOnly;
    if (rowCount() > 0)
        Q_EMIT dataChanged(index(0), index(rowCount() - 1)); // flags changed
    Q_EMIT readOnlyChanged();
}

/*!
    \property Synq::SyncCollection::count
    The number of rows in the model. A large collection opens with its first rows and loads
    the rest as views scroll to them (see canFetchMore()); until then count is the number
    loaded so far.
*/
int SyncCollection::count() const
{
    return d->store ? d->store->count() : 0;
}

/*!
    \property Synq::SyncCollection::pendingCount
    The number of transactions touching this collection that are still on their way to the
    backend (neither completed nor failed).
*/
int SyncCollection::pendingCount() const
{
    return d->store ? d->store->pendingTransactions() : 0;
}

int SyncCollection::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : count();
}

/*!
    Returns true while stored rows of the collection are not loaded yet. A collection opens
    with its first 500 rows (in replica order) and loads the others in pages as views ask for
    them through fetchMore(), as \c ListView and \c QTableView do when they scroll near the
    end. Rows made or shown again since the collection was opened, and any row a call such as
    update(), remove() or indexOfKey() names, are always loaded (with the rows before them).
*/
bool SyncCollection::canFetchMore(const QModelIndex &parent) const
{
    return !parent.isValid() && d->store && d->store->canFetchMore();
}

/*!
    Loads every stored row not loaded yet, now (before it returns), as one rowsInserted() per
    contiguous range. For code that needs the whole collection in the model — an export, a
    count of everything — rather than a view's page at a time; a large collection takes a
    while (about 3 ms per 1,000 rows on the development machine).

    \sa canFetchMore(), fetchMore()
*/
void SyncCollection::fetchAll()
{
    if (d->store)
        d->store->fetchAll();
}

/*!
    Loads the next page (500) of stored rows. They are read when control returns to the event
    loop, not inside the call — views ask while they handle other model signals — and arrive
    as one rowsInserted() in every model on the collection.
*/
void SyncCollection::fetchMore(const QModelIndex &parent)
{
    if (parent.isValid() || !d->store || d->fetchScheduled)
        return;
    d->fetchScheduled = true;
    QMetaObject::invokeMethod(
            this,
            [this] {
                d->fetchScheduled = false;
                if (d->store)
                    d->store->fetchMore(FetchPage);
            },
            Qt::QueuedConnection);
}

// Rows are held as JSON text; a view reads the roles of one row after the other, so the
// last row decoded is kept until the collection changes.
const QJsonObject &SyncCollectionPrivate::decoded(int row) const
{
    if (row != decodedRow || store->generation() != decodedGeneration) {
        decodedObject = store->row(row).data();
        decodedRow = row;
        decodedGeneration = store->generation();
    }
    return decodedObject;
}

QVariant SyncCollectionPrivate::meta(const StoreRow &row, int role) const
{
    switch (role) {
    case SyncCollection::KeyRole:
        return row.key;
    case SyncCollection::SyncStateRole:
        return int(row.syncState());
    case SyncCollection::IsOptimisticRole:
        return row.optimistic;
    case SyncCollection::PendingTransactionsRole:
        return row.pending;
    case SyncCollection::LastErrorRole:
        return QVariant::fromValue(row.lastError);
    case SyncCollection::VersionRole:
        return row.version;
    default:
        return QVariant();
    }
}

QVariant SyncCollection::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)
        || !d->store)
        return QVariant();
    const StoreRow &row = d->store->row(index.row());
    if (role == Qt::DisplayRole || role == Qt::EditRole) {
        if (d->fields.isEmpty())
            return row.key;
        return d->decoded(index.row()).value(d->fields.constFirst()).toVariant();
    }
    if (role >= FirstFieldRole && role < FirstFieldRole + d->fields.size())
        return d->decoded(index.row()).value(d->fields.at(role - FirstFieldRole)).toVariant();
    return d->meta(row, role);
}

bool SyncCollection::setData(const QModelIndex &index, const QVariant &value, int role)
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)
        || !d->store)
        return false;
    QString field;
    if (role >= FirstFieldRole && role < FirstFieldRole + d->fields.size())
        field = d->fields.at(role - FirstFieldRole);
    else if ((role == Qt::EditRole || role == Qt::DisplayRole) && !d->fields.isEmpty())
        field = d->fields.constFirst();
    else
        return false; // meta roles are not editable
    const StoreRow &row = d->store->row(index.row());
    QJsonValue json;
    if (Json::fromVariant(value, &json) && d->decoded(index.row()).value(field) == json)
        return true; // nothing changes: no mutation
    return update(row.key, QVariantMap { { field, value } }) != nullptr;
}

Qt::ItemFlags SyncCollection::flags(const QModelIndex &index) const
{
    Qt::ItemFlags f = QAbstractListModel::flags(index);
    if (index.isValid() && !d->readOnly)
        f |= Qt::ItemIsEditable;
    return f;
}

QHash<int, QByteArray> SyncCollection::roleNames() const
{
    QHash<int, QByteArray> names = QAbstractListModel::roleNames();
    const QStringList meta = metaRoleNames();
    for (int i = 0; i < meta.size(); ++i)
        names.insert(KeyRole + i, meta.at(i).toLatin1());
    for (int i = 0; i < d->fields.size(); ++i)
        names.insert(FirstFieldRole + i, d->fields.at(i).toLatin1());
    return names;
}

} // namespace Synq
