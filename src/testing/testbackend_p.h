// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_TESTBACKEND_P_H
#define SYNQ_TESTBACKEND_P_H

//
//  W A R N I N G
//  -------------
//
// This file is not part of the Synq API. It may change from version to version without notice.
//

#include <synq/pushrules.h>
#include <synq/testbackend.h>

#include <QtCore/QHash>
#include <QtCore/QMap>

#include <optional>

namespace Synq {
namespace Testing {

class TestBackendPrivate;

// The SyncTransport a TestBackend hands out. It only forwards to the backend; the backend
// owns it and deletes it first thing on destruction, which also drops its queued answers.
class TestTransport : public SyncTransport
{
public:
    explicit TestTransport(TestBackendPrivate *backend, QObject *parent);

    void push(const Protocol::PushRequest &request, PushCallback done) override;
    void pull(const Protocol::PullRequest &request, PullCallback done) override;

    void emitChangesAvailable() { Q_EMIT changesAvailable(); }

private:
    TestBackendPrivate *m_backend;
};

class TestBackendPrivate
{
public:
    explicit TestBackendPrivate(TestBackend *q);

    // The state of one key: a live record or a tombstone (Removed); never Missing.
    using Entry = PushRules::RecordState;

    struct Collection
    {
        QMap<QString, Entry> entries; // key -> latest state (a QMap: records() in key order)
        QMap<qint64, QString> byVersion; // version -> key, the change feed
    };

    // One write, remembered so that a failed transaction can be taken back.
    struct Undo
    {
        QString collection;
        QString key;
        std::optional<Entry> previous;
    };

    struct RequestFailure
    {
        SyncError error;
        TestBackend::RequestType type = TestBackend::AnyRequest;
    };

    void push(const Protocol::PushRequest &request, SyncTransport::PushCallback done);
    void pull(const Protocol::PullRequest &request, SyncTransport::PullCallback done);

    bool takeRequestFailure(TestBackend::RequestType type, SyncError *error);
    Protocol::PushResponse applyPush(const Protocol::PushRequest &request);
    void applyTransaction(const QList<Protocol::PushMutation> &mutations, qsizetype begin,
                          qsizetype end, PushRules::Batch *batch,
                          QList<Protocol::PushResult> *results);
    bool applyOne(const Protocol::PushMutation &m, PushRules::Batch *batch, QList<Undo> *undo,
                  Protocol::PushResult *result);
    Protocol::PushResult conflictResult(const Protocol::PushMutation &m,
                                        const QString &key) const;

    const Entry *find(const QString &collection, const QString &key) const;
    Entry stateOf(const QString &collection, const QString &key) const;
    qint64 write(const QString &collection, const QString &key, const QJsonObject *data,
                 QList<Undo> *undo = nullptr);
    void restore(const Undo &undo);
    std::optional<QString> keyOf(const QString &collection, const QVariantMap &record) const;

    void deliverPush(Protocol::PushResponse response, SyncError error,
                     SyncTransport::PushCallback done, int processedMutations);
    void deliverPull(Protocol::PullResponse response, SyncError error,
                     SyncTransport::PullCallback done, const QString &processedCollection);

    static SyncError unreachable();

    TestBackend *q;
    TestTransport *transport = nullptr;

    QHash<QString, Collection> collections;
    QHash<QString, QString> keyFields;
    QHash<QString, Protocol::PushResult> stored; // mutation id -> its applied result
    qint64 currentVersion = 0;

    QList<Protocol::PushMutation> pushedMutations;
    int pushRequests = 0;
    int pullRequests = 0;

    int networkDelay = 0;
    bool offline = false;
    QList<SyncError> persistFailures;
    QList<RequestFailure> requestFailures;
};

} // namespace Testing
} // namespace Synq

#endif
