// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_TESTBACKEND_P_H
#define SYNQ_TESTBACKEND_P_H

//
//  W A R N I N G
//  -------------
//
// This file is not part of the Synq API. It may change from version to version without notice.
//

#include "testpushhandler_p.h"
#include "teststore_p.h"

#include <synq/testbackend.h>

#include <QtCore/QHash>

#include <optional>

namespace Synq {
namespace Testing {

class TestTransport;

class TestBackendPrivate
{
public:
    explicit TestBackendPrivate(TestBackend *q);

    struct RequestFailure
    {
        SyncError error;
        TestBackend::RequestType type = TestBackend::AnyRequest;
    };

    std::optional<QString> keyOf(const QString &collection, const QVariantMap &record) const;

    TestBackend *q;
    TestTransport *transport = nullptr;

    TestStore store;
    TestPushHandler pushHandler { &store };
    QHash<QString, QString> keyFields;

    QList<Protocol::PushMutation> pushedMutations;
    int pushRequests = 0;
    int pullRequests = 0;
    int fetchRequests = 0;

    int networkDelay = 0;
    bool offline = false;
    QList<SyncError> persistFailures;
    QList<RequestFailure> requestFailures;
};

} // namespace Testing
} // namespace Synq

#endif
