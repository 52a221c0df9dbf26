// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_TESTPUSHHANDLER_P_H
#define SYNQ_TESTPUSHHANDLER_P_H

//
//  W A R N I N G
//  -------------
//
// This file is not part of the Synq API. It may change from version to version without notice.
//

#include "teststore_p.h"

#include <synq/protocol.h>
#include <synq/pushrules.h>
#include <synq/syncerror.h>

#include <QtCore/QHash>
#include <QtCore/QList>
#include <QtCore/QString>

namespace Synq {
namespace Testing {

/*
    Applies a TestBackend's pushes to its TestStore the way synq-server's PushHandler applies
    them to its database: under PushRules, transaction by transaction, all or nothing, each
    mutation id at most once. Each write keeps the mutation's hlc stamp with the record or
    tombstone; applied results carry it, conflicts the stamp of the server's current state.
    The request is valid (PushRules::checkPush() and the stamps' check passed).
*/
class TestPushHandler
{
public:
    explicit TestPushHandler(TestStore *store) : m_store(store) { }

    // Each transaction of the request takes the first of persistFailures instead of being
    // applied, while there are any (TestBackend::failNextPersist()).
    Protocol::PushResponse run(const Protocol::PushRequest &request,
                               QList<SyncError> *persistFailures);
    // Forgets the results remembered for idempotency.
    void forgetResults() { m_stored.clear(); }
    // Inserts into collection get a key the backend chooses (PushRules::assignedKey()),
    // written into keyField of the record; an empty keyField turns that off.
    void setAssignedKeys(const QString &collection, const QString &keyField);
    bool assignsKeys(const QString &collection) const
    {
        return m_assignedKeys.contains(collection);
    }

private:
    void runTransaction(const QList<Protocol::PushMutation> &mutations, qsizetype begin,
                        qsizetype end, QList<Protocol::PushResult> *results);
    bool applyOne(const Protocol::PushMutation &m, QList<TestStore::Undo> *undo,
                  Protocol::PushResult *result);
    void insertUnderNewKey(const Protocol::PushMutation &m, QList<TestStore::Undo> *undo,
                           Protocol::PushResult *result);
    Protocol::PushResult conflictResult(const Protocol::PushMutation &m,
                                        const QString &key) const;

    TestStore *m_store;
    PushRules::Batch m_batch; // the facts of the request being applied
    QHash<QString, Protocol::PushResult> m_stored; // mutation id -> its applied result
    QHash<QString, QString> m_assignedKeys; // collection -> the key field the key is written to
};

} // namespace Testing
} // namespace Synq

#endif
