// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_TESTS_PROPERTYSEED_H
#define SYNQ_TESTS_PROPERTYSEED_H

#include <synq/records.h>

#include <QtCore/QRandomGenerator>
#include <QtCore/QStringList>
#include <QtCore/QString>
#include <QtCore/QtGlobal>

/*
    Seeds for the property tests of the pure core. Each test row names a fixed seed, so every
    run checks the same cases; SYNQ_PROPERTY_SEED=<n> replaces the row's seed (to repeat a
    failure, or to explore other cases). Each case draws from a generator of its own, seeded
    with (seed, case), so a failure message that names both is enough to repeat it.
*/
namespace PropertySeed {

// Cases per test row: enough to reach every rule, few enough for a suite of a few seconds.
constexpr int Cases = 500;

inline quint32 seed(quint32 fallback)
{
    bool ok = false;
    const quint32 fromEnvironment = qEnvironmentVariable("SYNQ_PROPERTY_SEED").toUInt(&ok);
    return ok ? fromEnvironment : fallback;
}

inline QRandomGenerator generator(quint32 seed, int index)
{
    const quint32 words[] = { seed, quint32(index) };
    return QRandomGenerator(words, 2);
}

// What a failure message starts with: how to repeat it.
inline QString context(quint32 seed, int index)
{
    return QStringLiteral("SYNQ_PROPERTY_SEED=%1, case %2").arg(seed).arg(index);
}

// What differs between two mutations, field by field ("" when nothing).
inline QString differences(const Synq::MutationRecord &a, const Synq::MutationRecord &b)
{
    QStringList out;
    const auto check = [&](bool same, const char *name) {
        if (!same)
            out.append(QString::fromLatin1(name));
    };
    check(a.id == b.id, "id");
    check(a.transactionId == b.transactionId, "transactionId");
    check(a.sequence == b.sequence, "sequence");
    check(a.collection == b.collection, "collection");
    check(a.key == b.key, "key");
    check(a.type == b.type, "type");
    check(a.baseVersion == b.baseVersion, "baseVersion");
    check(a.original == b.original, "original");
    check(a.modified == b.modified, "modified");
    check(a.changes == b.changes, "changes");
    check(a.metadata == b.metadata, "metadata");
    check(a.state == b.state, "state");
    check(a.createdAt == b.createdAt, "createdAt");
    check(a.updatedAt == b.updatedAt, "updatedAt");
    return out.join(QStringLiteral(", "));
}

} // namespace PropertySeed

#endif
