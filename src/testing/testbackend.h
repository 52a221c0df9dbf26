// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_TESTBACKEND_H
#define SYNQ_TESTBACKEND_H

#include <synq/protocol.h>
#include <synq/syncerror.h>
#include <synq/synctransport.h>
#include <synq/synq_testing_export.h>

#include <QtCore/QJsonObject>
#include <QtCore/QList>
#include <QtCore/QObject>
#include <QtCore/QString>
#include <QtCore/QVariantList>
#include <QtCore/QVariantMap>

#include <memory>

namespace Synq {
namespace Testing {

class TestBackendPrivate;

class SYNQ_TESTING_EXPORT TestBackend : public QObject
{
    Q_OBJECT
    Q_PROPERTY(Synq::SyncTransport *transport READ transport CONSTANT FINAL)
    Q_PROPERTY(int networkDelay READ networkDelay WRITE setNetworkDelay NOTIFY
                       networkDelayChanged FINAL)
    Q_PROPERTY(bool offline READ isOffline WRITE setOffline NOTIFY offlineChanged FINAL)

public:
    // Which requests failNextRequest() applies to.
    enum RequestType {
        AnyRequest,
        PushRequests,
        PullRequests,
        FetchRequests,
    };
    Q_ENUM(RequestType)

    explicit TestBackend(QObject *parent = nullptr);
    ~TestBackend() override;

    SyncTransport *transport() const;

    // Server-side changes.
    Q_INVOKABLE void setKeyField(const QString &collection, const QString &field);
    Q_INVOKABLE QString keyField(const QString &collection) const;
    Q_INVOKABLE void setServerAssignedKeys(const QString &collection, bool assigned = true);
    Q_INVOKABLE bool hasServerAssignedKeys(const QString &collection) const;
    Q_INVOKABLE qint64 emitUpdate(const QString &collection, const QVariantMap &record);
    Q_INVOKABLE qint64 emitDelete(const QString &collection, const QString &key);
    Q_INVOKABLE qint64 injectConflict(const QString &collection, const QString &key,
                                      const QVariantMap &serverRecord);
    Q_INVOKABLE qint64 injectConflict(const QString &collection, const QString &key,
                                      const QVariantMap &serverRecord, const QString &hlc);

    // The network and failures.
    int networkDelay() const;
    void setNetworkDelay(int ms);
    bool isOffline() const;
    void setOffline(bool offline);
    void failNextPersist(const Synq::SyncError &error);
    void failNextRequest(const Synq::SyncError &error, RequestType type = AnyRequest);

    // What the backend holds and received.
    QList<Protocol::PushMutation> pushedMutations() const;
    Q_INVOKABLE QVariantList pushedMutationList() const;
    QList<QJsonObject> records(const QString &collection) const;
    Q_INVOKABLE QJsonObject record(const QString &collection, const QString &key) const;
    Q_INVOKABLE qint64 version(const QString &collection, const QString &key) const;
    Q_INVOKABLE bool contains(const QString &collection, const QString &key) const;
    Q_INVOKABLE qint64 currentVersion() const;
    Q_INVOKABLE int pushRequestCount() const;
    Q_INVOKABLE int pullRequestCount() const;
    Q_INVOKABLE int fetchRequestCount() const;
    Q_INVOKABLE void reset();

Q_SIGNALS:
    void networkDelayChanged();
    void offlineChanged();
    void pushed(int mutationCount);
    void pulled(const QString &collection);

private:
    friend class TestBackendPrivate;
    std::unique_ptr<TestBackendPrivate> d;
};

} // namespace Testing
} // namespace Synq

#endif
