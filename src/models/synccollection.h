// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_SYNCCOLLECTION_H
#define SYNQ_SYNCCOLLECTION_H

#include <synq/syncengine.h>
#include <synq/syncerror.h>
#include <synq/synq_export.h>
#include <synq/transaction.h>

#include <QtCore/QAbstractListModel>
#include <QtCore/QStringList>
#include <QtCore/QVariantMap>

#include <memory>

namespace Synq {

class SyncCollectionPrivate;

class SYNQ_EXPORT SyncCollection : public QAbstractListModel
{
    Q_OBJECT
    Q_PROPERTY(Synq::SyncEngine *engine READ engine WRITE setEngine NOTIFY engineChanged FINAL)
    Q_PROPERTY(QString name READ name WRITE setName NOTIFY nameChanged FINAL)
    Q_PROPERTY(QStringList fields READ fields WRITE setFields NOTIFY fieldsChanged FINAL)
    Q_PROPERTY(QString keyField READ keyField WRITE setKeyField NOTIFY keyFieldChanged FINAL)
    Q_PROPERTY(Synq::SyncCollection::Strategy strategy READ strategy WRITE setStrategy NOTIFY
                       strategyChanged FINAL)
    Q_PROPERTY(Synq::SyncCollection::ConflictPolicy conflictPolicy READ conflictPolicy WRITE
                       setConflictPolicy NOTIFY conflictPolicyChanged FINAL)
    Q_PROPERTY(QVariantMap fieldPolicies READ fieldPolicies WRITE setFieldPolicies NOTIFY
                       fieldPoliciesChanged FINAL)
    Q_PROPERTY(bool conflictFree READ isConflictFree WRITE setConflictFree NOTIFY
                       conflictFreeChanged FINAL)
    Q_PROPERTY(Synq::SyncCollection::CachePolicy cachePolicy READ cachePolicy WRITE
                       setCachePolicy NOTIFY cachePolicyChanged FINAL)
    Q_PROPERTY(bool readOnly READ isReadOnly WRITE setReadOnly NOTIFY readOnlyChanged FINAL)
    Q_PROPERTY(bool awaitSync READ awaitSync WRITE setAwaitSync NOTIFY awaitSyncChanged FINAL)
    Q_PROPERTY(int count READ count NOTIFY countChanged FINAL)
    Q_PROPERTY(int pendingCount READ pendingCount NOTIFY pendingCountChanged FINAL)

public:
    enum SyncState {
        Synced = int(ItemSyncState::Synced),
        Pending = int(ItemSyncState::Pending),
        Syncing = int(ItemSyncState::Syncing),
        Failed = int(ItemSyncState::Failed),
        Conflict = int(ItemSyncState::Conflict),
    };
    Q_ENUM(SyncState)

    enum Strategy {
        Ordered = int(StrategyKind::Ordered),
        Parallel = int(StrategyKind::Parallel),
    };
    Q_ENUM(Strategy)

    enum ConflictPolicy { ServerWins, ClientWins, LastWriteWins, FieldMerge, Custom, Manual };
    Q_ENUM(ConflictPolicy)

    // Scoped, because ServerWins is also a ConflictPolicy. Both ServerWins are 0, so the
    // unscoped QML spelling SyncCollection.ServerWins means the same for either use;
    // SyncCollection.FieldPolicy.ServerWins is the explicit one.
    enum class FieldPolicy { ServerWins = 0, LocalWins = 1, MergeArrays, Monotonic, ServerDerived };
    Q_ENUM(FieldPolicy)

    enum CachePolicy { RemoteFirst, LocalFirst, OfflineOnly, OnlineOnly };
    Q_ENUM(CachePolicy)

    enum Roles {
        KeyRole = Qt::UserRole + 1,
        SyncStateRole,
        IsOptimisticRole,
        PendingTransactionsRole,
        LastErrorRole,
        VersionRole,
        FirstFieldRole = Qt::UserRole + 64, // field i has role FirstFieldRole + i
    };
    Q_ENUM(Roles)

    explicit SyncCollection(QObject *parent = nullptr);
    SyncCollection(SyncEngine *engine, const QString &name, const QStringList &fields,
                   QObject *parent = nullptr);
    ~SyncCollection() override;

    SyncEngine *engine() const;
    void setEngine(SyncEngine *engine);
    QString name() const;
    void setName(const QString &name);
    QStringList fields() const;
    void setFields(const QStringList &fields);
    QString keyField() const;
    void setKeyField(const QString &keyField);
    Strategy strategy() const;
    void setStrategy(Strategy strategy);
    ConflictPolicy conflictPolicy() const;
    void setConflictPolicy(ConflictPolicy policy);
    QVariantMap fieldPolicies() const;
    void setFieldPolicies(const QVariantMap &policies);
    bool isConflictFree() const;
    void setConflictFree(bool conflictFree);
    CachePolicy cachePolicy() const;
    void setCachePolicy(CachePolicy policy);
    bool isReadOnly() const;
    void setReadOnly(bool readOnly);
    bool awaitSync() const;
    void setAwaitSync(bool await);

    // Persist this collection's transactions with a function of your own.
    void setPersistHandler(SyncEngine::PersistHandler handler);
    // Re-apply pending changes on top of incoming syncs with a function of your own.
    void setMergeFunction(SyncEngine::MergeFunction merge);
    // Resolve conflicts with a function of your own (conflictPolicy Custom).
    void setConflictResolver(SyncEngine::ConflictResolver resolver);

    int count() const;
    int pendingCount() const;

    // QAbstractItemModel
    int rowCount(const QModelIndex &parent = QModelIndex()) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    bool setData(const QModelIndex &index, const QVariant &value, int role = Qt::EditRole) override;
    Qt::ItemFlags flags(const QModelIndex &index) const override;
    QHash<int, QByteArray> roleNames() const override;
    bool canFetchMore(const QModelIndex &parent = QModelIndex()) const override;
    void fetchMore(const QModelIndex &parent = QModelIndex()) override;

    // Mutators: each returns the Transaction it created, or nullptr (and errorOccurred) when
    // the change was refused. The engine owns the transaction.
    Q_INVOKABLE Synq::Transaction *insert(const QVariant &item);
    Q_INVOKABLE Synq::Transaction *update(const QVariant &key, const QVariant &changes);
    Q_INVOKABLE Synq::Transaction *remove(const QVariant &key);
    Q_INVOKABLE Synq::Transaction *insertMany(const QVariant &items);
    Q_INVOKABLE Synq::Transaction *updateMany(const QVariant &updates);
    Q_INVOKABLE Synq::Transaction *removeMany(const QVariant &keys);

    // Reads
    Q_INVOKABLE QVariantMap get(int row) const;
    Q_INVOKABLE QVariantMap getByKey(const QVariant &key) const;
    Q_INVOKABLE int indexOfKey(const QVariant &key) const;
    Q_INVOKABLE void fetchAll();

    // The names of the meta roles, which field names may not take.
    static QStringList metaRoleNames();

Q_SIGNALS:
    void engineChanged();
    void nameChanged();
    void fieldsChanged();
    void keyFieldChanged();
    void strategyChanged();
    void conflictPolicyChanged();
    void fieldPoliciesChanged();
    void conflictFreeChanged();
    void cachePolicyChanged();
    void readOnlyChanged();
    void awaitSyncChanged();
    void countChanged();
    void pendingCountChanged();
    void errorOccurred(const Synq::SyncError &error);
    // A transaction with changes to this collection failed for good (its changes rolled back;
    // it is a dead letter: SyncEngine::retry() or discard()).
    void mutationFailed(Synq::Transaction *transaction, const Synq::SyncError &error);
    // A change to the row of key met a conflict on push; the row shows what the policy made of
    // it, and the transaction its conflictOutcome.
    void conflictDetected(const QString &key);
    // The server gave the item oldKey its own key newKey; the row (if shown) has it already.
    void idRemapped(const QString &oldKey, const QString &newKey);

private:
    friend class SyncCollectionPrivate;
    std::unique_ptr<SyncCollectionPrivate> d;
};

} // namespace Synq

#endif
