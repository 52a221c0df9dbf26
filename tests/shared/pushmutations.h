// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQTEST_PUSHMUTATIONS_H
#define SYNQTEST_PUSHMUTATIONS_H

#include <synq/protocol.h>

#include <QtCore/QJsonObject>
#include <QtCore/QMetaType>
#include <QtCore/QString>

#include <optional>

namespace SynqTest {

/*
    One mutation of a push as a test writes it, for tests that speak the protocol's values
    (Synq::Protocol::PushMutation) to a backend:

        mutation("m1", "t1", MutationType::Update, "a", 3, QJsonObject { { "done", true } })

    base std::nullopt is an unchecked mutation; data is an insert's record or an update's
    changes.
*/
inline Synq::Protocol::PushMutation mutation(const char *id, const char *tx, Synq::MutationType op,
                                             const char *key, std::optional<qint64> base,
                                             const QJsonObject &data = QJsonObject(),
                                             const char *collection = "todos")
{
    Synq::Protocol::PushMutation m;
    m.id = QString::fromUtf8(id);
    m.tx = QString::fromUtf8(tx);
    m.collection = QString::fromUtf8(collection);
    m.op = op;
    m.key = QString::fromUtf8(key);
    m.baseVersion = base;
    m.data = data;
    return m;
}

} // namespace SynqTest

// For QTest data tables of mutations.
Q_DECLARE_METATYPE(Synq::Protocol::PushMutation)

#endif
